package autograd

import "testing"

func TestSoftmaxGrad(t *testing.T) {
	x := RandVar(1, true, 3, 4)
	ckGrad(t, func() *Var { return Softmax(x) }, x)
	x3 := RandVar(2, true, 2, 2, 3) // every leading index is a row
	ckGrad(t, func() *Var { return Softmax(x3) }, x3)
}

func TestSoftmaxValues(t *testing.T) {
	x := param([]float32{0, 0, 1, 2, 1000, 1000}, 3, 2)
	y := Softmax(x)
	ckValues(t, y, []int{3, 2}, []float32{0.5, 0.5, 0.26894142, 0.7310586, 0.5, 0.5}, 1e-6)
	ckValues(t, Softmax(constOf([]float32{1, 1, 1, 1}, 1, 4)), []int{1, 4}, []float32{0.25, 0.25, 0.25, 0.25}, 1e-7)
	// d/dx of Σ y·w: y⊙(w − y·w) for row [1, 2] with w = [1, 0]:
	// y = [0.26894, 0.73106], y·w = 0.26894, grad = [0.19661, −0.19661].
	Backward(Sum(Mul(y, constOf([]float32{0, 0, 1, 0, 0, 0}, 3, 2))))
	ckValues(t, &Var{Value: x.Grad}, []int{3, 2}, []float32{0, 0, 0.19661193, -0.19661193, 0, 0}, 1e-6)
	ckPanics(t, "autograd: Softmax: need at least 1 dim", func() { Softmax(constOf([]float32{1})) })
}
