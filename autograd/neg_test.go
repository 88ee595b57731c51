package autograd

import "testing"

func TestNeg(t *testing.T) {
	x := RandVar(1, true, 4)
	ckGrad(t, func() *Var { return Neg(x) }, x)
	p := param([]float32{1, -2, 0}, 3)
	y := Neg(p)
	ckValues(t, y, []int{3}, []float32{-1, 2, 0}, 0)
	Backward(Sum(y))
	ckValues(t, &Var{Value: p.Grad}, []int{3}, []float32{-1, -1, -1}, 0)
}
