package autograd

import "ebyd/tensor"

// ReLU returns max(x, 0) element-wise.
func ReLU(x *Var) *Var {
	xd := x.Value.Data
	y := tensor.New(x.Value.Shape...)
	yd := y.Data
	for i, v := range xd {
		if v > 0 {
			yd[i] = v
		}
	}
	return result(y, func(out *Var) {
		g := make([]float32, len(yd))
		gd := out.Grad.Data
		for i, v := range yd {
			if v > 0 {
				g[i] = gd[i]
			}
		}
		x.accumulate(g)
	}, x)
}
