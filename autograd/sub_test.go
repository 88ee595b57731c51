package autograd

import "testing"

func TestSubGrad(t *testing.T) {
	for k, s := range bcastPairs {
		a, b := RandVar(uint64(k), true, s[0]...), RandVar(uint64(k+50), true, s[1]...)
		ckGrad(t, func() *Var { return Sub(a, b) }, a, b)
	}
	x := RandVar(1, true, 3)
	ckGrad(t, func() *Var { return Sub(x, x) }, x)
}

func TestSubValues(t *testing.T) {
	a := param([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := param([]float32{1, 10}, 2, 1)
	y := Sub(a, b)
	ckValues(t, y, []int{2, 3}, []float32{0, 1, 2, -6, -5, -4}, 0)
	Backward(Sum(y))
	ckValues(t, &Var{Value: b.Grad}, []int{2, 1}, []float32{-3, -3}, 0)
	ckValues(t, &Var{Value: a.Grad}, []int{2, 3}, []float32{1, 1, 1, 1, 1, 1}, 0)
	ckPanics(t, "autograd: Sub: shapes", func() { Sub(a, constOf([]float32{1, 2}, 2)) })
}
