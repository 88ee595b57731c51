package autograd

import "ebyd/tensor"

// Abs returns |x| element-wise; its gradient is sign(x), 0 at 0 (as PyTorch).
func Abs(x *Var) *Var {
	xd := x.Value.Data
	y := tensor.New(x.Value.Shape...)
	for i, v := range xd {
		if v < 0 {
			v = -v
		}
		y.Data[i] = v
	}
	return result(y, func(out *Var) {
		g := make([]float32, len(xd))
		for i, v := range out.Grad.Data {
			switch {
			case xd[i] > 0:
				g[i] = v
			case xd[i] < 0:
				g[i] = -v
			}
		}
		x.accumulate(g)
	}, x)
}
