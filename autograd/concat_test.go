package autograd

import "testing"

func TestConcatGrad(t *testing.T) {
	a, b, c := RandVar(1, true, 2, 1, 3), RandVar(2, true, 2, 2, 3), RandVar(3, false, 2, 3, 3)
	ckGrad(t, func() *Var { return Concat(1, a, b, c) }, a, b, c)
	ckGrad(t, func() *Var { return Concat(-1, a, a) }, a)
	ckGrad(t, func() *Var { return Concat(0, b, RandVar(4, false, 1, 2, 3), b) }, b)
	e := RandVar(5, true, 2, 0, 3) // an empty input
	ckGrad(t, func() *Var { return Concat(1, e, a) }, a)
}

func TestConcatValues(t *testing.T) {
	a := param([]float32{1, 2, 3, 4}, 2, 2)
	b := param([]float32{5, 6}, 2, 1)
	y := Concat(1, a, b)
	ckValues(t, y, []int{2, 3}, []float32{1, 2, 5, 3, 4, 6}, 0)
	ckValues(t, Concat(0, a, constOf([]float32{7, 8}, 1, 2)), []int{3, 2}, []float32{1, 2, 3, 4, 7, 8}, 0)
	ckValues(t, Concat(0, constOf([]float32{1}, 1)), []int{1}, []float32{1}, 0)
	Backward(Sum(Mul(y, constOf([]float32{1, 2, 3, 4, 5, 6}, 2, 3))))
	ckValues(t, &Var{Value: a.Grad}, []int{2, 2}, []float32{1, 2, 4, 5}, 0)
	ckValues(t, &Var{Value: b.Grad}, []int{2, 1}, []float32{3, 6}, 0)
	ckPanics(t, "autograd: Concat: input 1 has shape [2 1], input 0 has [2 2] (dim 0)", func() { Concat(0, a, b) })
	ckPanics(t, "autograd: Concat: no inputs", func() { Concat(0) })
	ckPanics(t, "autograd: Concat: dim 2 out of range", func() { Concat(2, a) })
}
