package autograd

import "testing"

func TestTanh(t *testing.T) {
	x := RandVar(1, true, 2, 3)
	ckGrad(t, func() *Var { return Tanh(x) }, x)
	p := param([]float32{0, 1, -2, 30}, 4)
	y := Tanh(p)
	ckValues(t, y, []int{4}, []float32{0, 0.7615942, -0.9640276, 1}, 1e-6)
	Backward(Sum(y))
	// 1 − tanh²: 1, 0.41997434, 0.070650816, 0.
	ckValues(t, &Var{Value: p.Grad}, []int{4}, []float32{1, 0.41997434, 0.070650816, 0}, 1e-6)
}
