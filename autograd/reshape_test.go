package autograd

import "testing"

func TestReshapeGrad(t *testing.T) {
	x := RandVar(1, true, 2, 3, 2)
	w := RandVar(2, false, 3, 4)
	// Multiply after reshaping so the gradient check sees a non-trivial map.
	ckGrad(t, func() *Var { return Mul(Reshape(x, -1, 4), w) }, x)
}

func TestReshapeValues(t *testing.T) {
	x := param([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	y := Reshape(x, 3, -1)
	ckValues(t, y, []int{3, 2}, []float32{1, 2, 3, 4, 5, 6}, 0)
	ckValues(t, Reshape(x, 6), []int{6}, []float32{1, 2, 3, 4, 5, 6}, 0)
	ckValues(t, Reshape(constOf([]float32{7}, 1, 1)), []int{}, []float32{7}, 0)
	Backward(Sum(Mul(y, constOf([]float32{1, 2, 3, 4, 5, 6}, 3, 2))))
	ckValues(t, &Var{Value: x.Grad}, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}, 0)
	ckPanics(t, "autograd: Reshape: cannot reshape [2 3] (6 elements) to [4]", func() { Reshape(x, 4) })
	ckPanics(t, "autograd: Reshape: cannot reshape [2 3] to [-1 4]", func() { Reshape(x, -1, 4) })
	ckPanics(t, "autograd: Reshape: more than one -1", func() { Reshape(x, -1, -1) })
	ckPanics(t, "autograd: Reshape: negative dimension", func() { Reshape(x, -2, -3) })
}
