package autograd

import (
	"math"

	"ebyd/tensor"
)

// Tanh returns tanh(x) element-wise.
func Tanh(x *Var) *Var {
	y := tensor.New(x.Value.Shape...)
	for i, v := range x.Value.Data {
		y.Data[i] = float32(math.Tanh(float64(v)))
	}
	return result(y, func(out *Var) {
		g := make([]float32, len(y.Data))
		for i, v := range out.Grad.Data {
			t := y.Data[i]
			g[i] = v * (1 - t*t)
		}
		x.accumulate(g)
	}, x)
}
