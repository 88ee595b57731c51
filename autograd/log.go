package autograd

import (
	"math"

	"ebyd/tensor"
)

// Log returns the natural logarithm element-wise (−Inf at 0, NaN below, as
// PyTorch).
func Log(x *Var) *Var {
	y := tensor.New(x.Value.Shape...)
	for i, v := range x.Value.Data {
		y.Data[i] = float32(math.Log(float64(v)))
	}
	return result(y, func(out *Var) {
		g := make([]float32, len(y.Data))
		xd := x.Value.Data
		for i, v := range out.Grad.Data {
			g[i] = v / xd[i]
		}
		x.accumulate(g)
	}, x)
}
