package autograd

import "testing"

func TestAbs(t *testing.T) {
	x := RandVar(1, true, 2, 3) // no element within eps of the kink at 0
	ckGrad(t, func() *Var { return Abs(x) }, x)
	p := param([]float32{-2, 0, 3}, 3)
	y := Abs(p)
	ckValues(t, y, []int{3}, []float32{2, 0, 3}, 0)
	Backward(Sum(y))
	ckValues(t, &Var{Value: p.Grad}, []int{3}, []float32{-1, 0, 1}, 0) // subgradient 0 at 0
}
