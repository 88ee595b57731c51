package autograd

import (
	"math"

	"ebyd/tensor"
)

// Sigmoid returns 1/(1+e^−x) element-wise, computed without overflow for
// inputs of either sign.
func Sigmoid(x *Var) *Var {
	y := tensor.New(x.Value.Shape...)
	for i, v := range x.Value.Data {
		y.Data[i] = sigmoid64(float64(v))
	}
	return result(y, func(out *Var) {
		g := make([]float32, len(y.Data))
		for i, v := range out.Grad.Data {
			s := y.Data[i]
			g[i] = v * s * (1 - s)
		}
		x.accumulate(g)
	}, x)
}

func sigmoid64(v float64) float32 {
	if v >= 0 {
		return float32(1 / (1 + math.Exp(-v)))
	}
	e := math.Exp(v)
	return float32(e / (1 + e))
}
