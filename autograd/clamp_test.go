package autograd

import "testing"

func TestClamp(t *testing.T) {
	x := RandVar(1, true, 3, 4) // values in [-1, 1), none within eps of ±0.5
	ckGrad(t, func() *Var { return Clamp(x, -0.5, 0.5) }, x)
	p := param([]float32{-2, -1, 0, 1, 2}, 5)
	y := Clamp(p, -1, 1)
	ckValues(t, y, []int{5}, []float32{-1, -1, 0, 1, 1}, 0)
	Backward(Sum(y))
	// The boundaries pass the gradient, as torch.clamp.
	ckValues(t, &Var{Value: p.Grad}, []int{5}, []float32{0, 1, 1, 1, 0}, 0)
	ckPanics(t, "autograd: Clamp: lo 1 > hi 0", func() { Clamp(p, 1, 0) })
}
