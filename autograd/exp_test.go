package autograd

import "testing"

func TestExp(t *testing.T) {
	x := RandVar(1, true, 2, 3)
	ckGrad(t, func() *Var { return Exp(x) }, x)
	p := param([]float32{0, 1, -1}, 3)
	y := Exp(p)
	ckValues(t, y, []int{3}, []float32{1, 2.7182817, 0.36787945}, 1e-7)
	Backward(Sum(y))
	ckValues(t, &Var{Value: p.Grad}, []int{3}, []float32{1, 2.7182817, 0.36787945}, 1e-7)
}
