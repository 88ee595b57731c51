package autograd

import "ebyd/tensor"

// Neg returns −x element-wise.
func Neg(x *Var) *Var {
	y := tensor.New(x.Value.Shape...)
	for i, v := range x.Value.Data {
		y.Data[i] = -v
	}
	return result(y, func(out *Var) {
		g := make([]float32, len(y.Data))
		for i, v := range out.Grad.Data {
			g[i] = -v
		}
		x.accumulate(g)
	}, x)
}
