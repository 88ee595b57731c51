package autograd

import "ebyd/tensor"

// Sum returns the sum of all elements as a scalar (shape []), accumulated in
// float64 in index order.
func Sum(x *Var) *Var {
	var s float64
	for _, v := range x.Value.Data {
		s += float64(v)
	}
	return result(tensor.Scalar(float32(s)), func(out *Var) {
		g := out.Grad.Data[0]
		gx := make([]float32, len(x.Value.Data))
		for i := range gx {
			gx[i] = g
		}
		x.accumulate(gx)
	}, x)
}
