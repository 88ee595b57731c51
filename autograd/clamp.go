package autograd

import (
	"fmt"

	"ebyd/tensor"
)

// Clamp limits x element-wise to [lo, hi], as torch.clamp. The gradient
// passes where lo ≤ x ≤ hi (boundaries included, as PyTorch) and is 0
// outside. NaN inputs stay NaN.
func Clamp(x *Var, lo, hi float32) *Var {
	if lo > hi {
		panic(fmt.Sprintf("autograd: Clamp: lo %v > hi %v", lo, hi))
	}
	xd := x.Value.Data
	y := tensor.New(x.Value.Shape...)
	for i, v := range xd {
		switch {
		case v < lo:
			v = lo
		case v > hi:
			v = hi
		}
		y.Data[i] = v
	}
	return result(y, func(out *Var) {
		g := make([]float32, len(xd))
		for i, v := range out.Grad.Data {
			if xd[i] >= lo && xd[i] <= hi {
				g[i] = v
			}
		}
		x.accumulate(g)
	}, x)
}
