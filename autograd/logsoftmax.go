package autograd

import (
	"math"

	"ebyd/tensor"
)

// LogSoftmax returns log(softmax(x)) over the last dim (x is [N, K], or any
// rank ≥ 1), computed stably as x − max − log Σ exp(x − max).
func LogSoftmax(x *Var) *Var {
	k := lastDim("LogSoftmax", x)
	xd := x.Value.Data
	y := tensor.New(x.Value.Shape...)
	for r := 0; r+k <= len(xd) && k > 0; r += k {
		xr, yr := xd[r:r+k], y.Data[r:r+k]
		m, logZ := softmaxRow(yr, xr)
		for j, v := range xr {
			yr[j] = float32(float64(v-m) - logZ)
		}
	}
	return result(y, func(out *Var) {
		g := out.Grad.Data
		gx := make([]float32, len(g))
		for r := 0; r+k <= len(g) && k > 0; r += k {
			yr, gr := y.Data[r:r+k], g[r:r+k]
			var s float64
			for _, v := range gr {
				s += float64(v)
			}
			for j, v := range gr {
				gx[r+j] = float32(float64(v) - math.Exp(float64(yr[j]))*s)
			}
		}
		x.accumulate(gx)
	}, x)
}
