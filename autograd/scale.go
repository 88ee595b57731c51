package autograd

import "ebyd/tensor"

// Scale returns c·x element-wise.
func Scale(x *Var, c float32) *Var {
	y := tensor.New(x.Value.Shape...)
	for i, v := range x.Value.Data {
		y.Data[i] = c * v
	}
	return result(y, func(out *Var) {
		g := make([]float32, len(y.Data))
		for i, v := range out.Grad.Data {
			g[i] = c * v
		}
		x.accumulate(g)
	}, x)
}
