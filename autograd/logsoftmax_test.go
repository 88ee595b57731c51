package autograd

import "testing"

func TestLogSoftmaxGrad(t *testing.T) {
	x := RandVar(1, true, 3, 4)
	ckGrad(t, func() *Var { return LogSoftmax(x) }, x)
	big := RandVar(2, true, 2, 3)
	for i := range big.Value.Data {
		big.Value.Data[i] *= 50 // far from 0: the stable form must hold
	}
	ckGrad(t, func() *Var { return LogSoftmax(big) }, big)
}

func TestLogSoftmaxValues(t *testing.T) {
	x := param([]float32{0, 0, 1, 2, -1000, 1000}, 3, 2)
	y := LogSoftmax(x)
	ckValues(t, y, []int{3, 2}, []float32{-0.6931472, -0.6931472, -1.3132616, -0.3132617, -2000, 0}, 1e-6)
	// Backward of Σ y row-wise: 1 − K·softmax = [0, 0], [0.46211716, −0.46211716], [1, −1].
	Backward(Sum(y))
	ckValues(t, &Var{Value: x.Grad}, []int{3, 2}, []float32{0, 0, 0.46211716, -0.46211716, 1, -1}, 1e-6)
	ckPanics(t, "autograd: LogSoftmax: need at least 1 dim", func() { LogSoftmax(constOf([]float32{1})) })
}
