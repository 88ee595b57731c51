package autograd

import "ebyd/tensor"

// Square returns x² element-wise.
func Square(x *Var) *Var {
	xd := x.Value.Data
	y := tensor.New(x.Value.Shape...)
	for i, v := range xd {
		y.Data[i] = v * v
	}
	return result(y, func(out *Var) {
		g := make([]float32, len(xd))
		for i, v := range out.Grad.Data {
			g[i] = 2 * xd[i] * v
		}
		x.accumulate(g)
	}, x)
}
