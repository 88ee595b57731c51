package autograd

import (
	"math"
	"testing"
)

func TestSqrt(t *testing.T) {
	x := positive(1, 0.2, 2, 3)
	ckGrad(t, func() *Var { return Sqrt(x) }, x)
	p := param([]float32{4, 0.25, 0}, 3)
	y := Sqrt(p)
	ckValues(t, y, []int{3}, []float32{2, 0.5, 0}, 0)
	Backward(Sum(y))
	g := p.Grad.Data
	if g[0] != 0.25 || g[1] != 1 || !math.IsInf(float64(g[2]), 1) {
		t.Fatalf("sqrt gradient %v, want [0.25 1 +Inf]", g)
	}
}
