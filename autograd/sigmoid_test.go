package autograd

import (
	"math"
	"testing"
)

func TestSigmoid(t *testing.T) {
	x := RandVar(1, true, 2, 3)
	ckGrad(t, func() *Var { return Sigmoid(x) }, x)
	p := param([]float32{0, 2, -2, 100, -100}, 5)
	y := Sigmoid(p)
	ckValues(t, y, []int{5}, []float32{0.5, 0.880797, 0.11920292, 1, 3.720076e-44}, 1e-6)
	if y.Value.HasNaN() || math.IsNaN(float64(Sigmoid(constOf([]float32{-1e30}, 1)).Item())) {
		t.Fatal("sigmoid overflowed")
	}
	Backward(Sum(y))
	ckValues(t, &Var{Value: p.Grad}, []int{5}, []float32{0.25, 0.104993574, 0.104993574, 0, 0}, 1e-6)
}
