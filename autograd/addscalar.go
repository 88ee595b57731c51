package autograd

import "ebyd/tensor"

// AddScalar returns x + c element-wise.
func AddScalar(x *Var, c float32) *Var {
	y := tensor.New(x.Value.Shape...)
	for i, v := range x.Value.Data {
		y.Data[i] = v + c
	}
	return result(y, func(out *Var) {
		x.accumulate(append([]float32(nil), out.Grad.Data...))
	}, x)
}
