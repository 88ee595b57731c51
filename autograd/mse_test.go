package autograd

import "testing"

func TestMSE(t *testing.T) {
	a, b := RandVar(1, true, 2, 3), RandVar(2, true, 2, 3)
	ckGrad(t, func() *Var { return MSE(a, b) }, a, b)
	ckGrad(t, func() *Var { return MSE(a, a) }, a)
	p := param([]float32{1, 2, 3, 4}, 2, 2)
	q := param([]float32{1, 0, 3, 0}, 2, 2)
	y := MSE(p, q)
	ckValues(t, y, []int{}, []float32{5}, 0) // (0 + 4 + 0 + 16) / 4
	Backward(y)
	ckValues(t, &Var{Value: p.Grad}, []int{2, 2}, []float32{0, 1, 0, 2}, 0)
	ckValues(t, &Var{Value: q.Grad}, []int{2, 2}, []float32{0, -1, 0, -2}, 0)
	ckPanics(t, "autograd: MSE: shapes [2 2] and [4] differ", func() { MSE(p, constOf([]float32{1, 2, 3, 4}, 4)) })
}
