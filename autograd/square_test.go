package autograd

import "testing"

func TestSquare(t *testing.T) {
	x := RandVar(1, true, 2, 3)
	ckGrad(t, func() *Var { return Square(x) }, x)
	p := param([]float32{-2, 0, 3}, 3)
	y := Square(p)
	ckValues(t, y, []int{3}, []float32{4, 0, 9}, 0)
	Backward(Sum(y))
	ckValues(t, &Var{Value: p.Grad}, []int{3}, []float32{-4, 0, 6}, 0)
}
