package autograd

import "testing"

func TestScale(t *testing.T) {
	x := RandVar(1, true, 2, 3)
	ckGrad(t, func() *Var { return Scale(x, -2.5) }, x)
	p := param([]float32{1, -2, 0.5}, 3)
	y := Scale(p, 3)
	ckValues(t, y, []int{3}, []float32{3, -6, 1.5}, 0)
	Backward(Sum(y))
	ckValues(t, &Var{Value: p.Grad}, []int{3}, []float32{3, 3, 3}, 0)
}
