package autograd

import "testing"

func TestAddScalar(t *testing.T) {
	x := RandVar(1, true, 2, 3)
	ckGrad(t, func() *Var { return AddScalar(x, 0.7) }, x)
	p := param([]float32{1, -2}, 2)
	y := AddScalar(p, 0.5)
	ckValues(t, y, []int{2}, []float32{1.5, -1.5}, 0)
	Backward(Sum(Mul(y, y)))
	ckValues(t, &Var{Value: p.Grad}, []int{2}, []float32{3, -3}, 0)
}
