package autograd

import "testing"

func TestMulGrad(t *testing.T) {
	for k, s := range bcastPairs {
		a, b := RandVar(uint64(k), true, s[0]...), RandVar(uint64(k+50), true, s[1]...)
		ckGrad(t, func() *Var { return Mul(a, b) }, a, b)
	}
	x := RandVar(1, true, 2, 2)
	ckGrad(t, func() *Var { return Mul(x, x) }, x)
}

func TestMulValues(t *testing.T) {
	// A channel mask [C,1,1] on [N,C,H,W] = [1,2,2,1].
	x := param([]float32{1, 2, 3, 4}, 1, 2, 2, 1)
	m := param([]float32{2, -1}, 2, 1, 1)
	y := Mul(x, m)
	ckValues(t, y, []int{1, 2, 2, 1}, []float32{2, 4, -3, -4}, 0)
	Backward(Sum(y))
	ckValues(t, &Var{Value: m.Grad}, []int{2, 1, 1}, []float32{3, 7}, 0)
	ckValues(t, &Var{Value: x.Grad}, []int{1, 2, 2, 1}, []float32{2, 2, -1, -1}, 0)

	s := param([]float32{3}, []int{}...)
	v := param([]float32{1, 2}, 2)
	Backward(Sum(Mul(s, v)))
	ckValues(t, &Var{Value: s.Grad}, []int{}, []float32{3}, 0)
	ckValues(t, &Var{Value: v.Grad}, []int{2}, []float32{3, 3}, 0)
	ckPanics(t, "autograd: Mul: shapes", func() { Mul(x, constOf([]float32{1, 2, 3}, 3, 1)) })
}
