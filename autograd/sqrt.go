package autograd

import (
	"math"

	"ebyd/tensor"
)

// Sqrt returns √x element-wise (NaN below 0; the gradient at 0 is +Inf, as
// PyTorch: add a small epsilon first where 0 can occur).
func Sqrt(x *Var) *Var {
	y := tensor.New(x.Value.Shape...)
	for i, v := range x.Value.Data {
		y.Data[i] = float32(math.Sqrt(float64(v)))
	}
	return result(y, func(out *Var) {
		g := make([]float32, len(y.Data))
		for i, v := range out.Grad.Data {
			g[i] = v / (2 * y.Data[i])
		}
		x.accumulate(g)
	}, x)
}
