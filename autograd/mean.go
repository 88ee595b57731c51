package autograd

import (
	"math"

	"ebyd/tensor"
)

// Mean returns the mean of all elements as a scalar (shape []), accumulated in
// float64 in index order; NaN for an empty x, as PyTorch.
func Mean(x *Var) *Var {
	n := len(x.Value.Data)
	var s float64
	for _, v := range x.Value.Data {
		s += float64(v)
	}
	m := math.NaN()
	if n > 0 {
		m = s / float64(n)
	}
	return result(tensor.Scalar(float32(m)), func(out *Var) {
		g := out.Grad.Data[0] / float32(n)
		gx := make([]float32, n)
		for i := range gx {
			gx[i] = g
		}
		x.accumulate(gx)
	}, x)
}
