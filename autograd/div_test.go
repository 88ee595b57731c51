package autograd

import (
	"math"
	"testing"
)

func TestDivGrad(t *testing.T) {
	for k, s := range bcastPairs {
		a, b := RandVar(uint64(k), true, s[0]...), positive(uint64(k+50), 0.5, s[1]...)
		ckGrad(t, func() *Var { return Div(a, b) }, a, b)
	}
	x := positive(1, 0.5, 3)
	ckGrad(t, func() *Var { return Div(x, x) }, x)
}

func TestDivValues(t *testing.T) {
	a := param([]float32{1, 2, 3, 4}, 2, 2)
	b := param([]float32{2, 4}, 2)
	y := Div(a, b)
	ckValues(t, y, []int{2, 2}, []float32{0.5, 0.5, 1.5, 1}, 1e-7)
	Backward(Sum(y))
	// ∂/∂a = 1/b; ∂/∂b_j = −Σ_i a_ij / b_j² = −4/4, −6/16.
	ckValues(t, &Var{Value: a.Grad}, []int{2, 2}, []float32{0.5, 0.25, 0.5, 0.25}, 1e-7)
	ckValues(t, &Var{Value: b.Grad}, []int{2}, []float32{-1, -0.375}, 1e-7)

	z := Div(constOf([]float32{1, -1, 0}, 3), constOf([]float32{0}, 1))
	if !math.IsInf(float64(z.Value.Data[0]), 1) || !math.IsInf(float64(z.Value.Data[1]), -1) || !math.IsNaN(float64(z.Value.Data[2])) {
		t.Fatalf("division by zero: %v", z.Value.Data)
	}
	ckPanics(t, "autograd: Div: shapes", func() { Div(a, constOf([]float32{1, 2, 3}, 3)) })
}
