package autograd

import "testing"

func TestNarrowGrad(t *testing.T) {
	x := RandVar(1, true, 2, 4, 3)
	ckGrad(t, func() *Var { return Narrow(x, 1, 1, 2) }, x)
	ckGrad(t, func() *Var { return Narrow(x, -1, 2, 1) }, x)
	ckGrad(t, func() *Var { return Narrow(x, 0, 0, 0) }, x)
	// Two overlapping slices add their gradients.
	ckGrad(t, func() *Var { return Concat(1, Narrow(x, 1, 0, 3), Narrow(x, 1, 1, 3)) }, x)
}

func TestNarrowValues(t *testing.T) {
	x := param([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	y := Narrow(x, 1, 1, 2)
	ckValues(t, y, []int{2, 2}, []float32{2, 3, 5, 6}, 0)
	ckValues(t, Narrow(x, 0, 1, 1), []int{1, 3}, []float32{4, 5, 6}, 0)
	Backward(Sum(y))
	ckValues(t, &Var{Value: x.Grad}, []int{2, 3}, []float32{0, 1, 1, 0, 1, 1}, 0)
	ckPanics(t, "autograd: Narrow: [2, 4) out of range for dim 1 of shape [2 3]", func() { Narrow(x, 1, 2, 2) })
	ckPanics(t, "autograd: Narrow: dim 2 out of range", func() { Narrow(x, 2, 0, 1) })
}
