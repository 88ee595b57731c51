package autograd

import (
	"math"

	"ebyd/tensor"
)

// ReLU returns max(x, 0) element-wise; NaN passes through.
//
// The loops are branch-free (sign-bit masks): on activations whose signs are
// random, a compare-and-branch mispredicts half the time and costs more than
// the memory traffic.
func ReLU(x *Var) *Var {
	xd := x.Value.Data
	y := newFull(x.Value.Shape...)
	yd := y.Data
	tensor.ParallelElems(len(xd), func(lo, hi int) {
		src, dst := xd[lo:hi], yd[lo:hi]
		for i, v := range src {
			b := math.Float32bits(v)
			neg := uint32(int32(b) >> 31) // all ones when the sign bit is set
			if v != v {
				neg = 0
			}
			dst[i] = math.Float32frombits(b &^ neg)
		}
	})
	return result(y, func(out *Var) {
		g := scratch(len(yd))
		gd := out.Grad.Data
		tensor.ParallelElems(len(yd), func(lo, hi int) {
			dst, src, ys := g[lo:hi], gd[lo:hi], yd[lo:hi]
			for i, v := range ys {
				b := int32(math.Float32bits(v))
				live := uint32((b | -b) >> 31) // all ones when y ≠ +0
				dst[i] = math.Float32frombits(math.Float32bits(src[i]) & live)
			}
		})
		x.accumulate(g)
	}, x)
}
