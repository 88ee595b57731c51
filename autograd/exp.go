package autograd

import (
	"math"

	"ebyd/tensor"
)

// Exp returns e^x element-wise.
func Exp(x *Var) *Var {
	y := tensor.New(x.Value.Shape...)
	for i, v := range x.Value.Data {
		y.Data[i] = float32(math.Exp(float64(v)))
	}
	return result(y, func(out *Var) {
		g := make([]float32, len(y.Data))
		for i, v := range out.Grad.Data {
			g[i] = v * y.Data[i]
		}
		x.accumulate(g)
	}, x)
}
