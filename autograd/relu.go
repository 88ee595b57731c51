package autograd

import (
	"ebyd/internal/vec"
	"ebyd/tensor"
)

// ReLU returns max(x, 0) element-wise; NaN passes through.
func ReLU(x *Var) *Var {
	xd := x.Value.Data
	y := newFull(x.Value.Shape...)
	yd := y.Data
	tensor.ParallelElems(len(xd), func(lo, hi int) { vec.ReLU(yd[lo:hi], xd[lo:hi]) })
	return result(y, func(out *Var) {
		g := scratch(len(yd))
		gd := out.Grad.Data
		tensor.ParallelElems(len(yd), func(lo, hi int) { vec.ReLUGrad(g[lo:hi], gd[lo:hi], yd[lo:hi]) })
		x.accumulate(g)
	}, x)
}
