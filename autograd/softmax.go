package autograd

import (
	"fmt"
	"math"

	"ebyd/tensor"
)

// Softmax normalises x over its last dim (x is [N, K], or any rank ≥ 1:
// every leading index is a row), computed stably by subtracting each row's
// maximum, with sums in float64.
func Softmax(x *Var) *Var {
	k := lastDim("Softmax", x)
	xd := x.Value.Data
	y := tensor.New(x.Value.Shape...)
	for r := 0; r+k <= len(xd) && k > 0; r += k {
		softmaxRow(y.Data[r:r+k], xd[r:r+k])
	}
	return result(y, func(out *Var) {
		g := out.Grad.Data
		gx := make([]float32, len(g))
		for r := 0; r+k <= len(g) && k > 0; r += k {
			yr, gr := y.Data[r:r+k], g[r:r+k]
			var dot float64
			for j, v := range gr {
				dot += float64(v) * float64(yr[j])
			}
			for j, v := range gr {
				gx[r+j] = float32(float64(yr[j]) * (float64(v) - dot))
			}
		}
		x.accumulate(gx)
	}, x)
}

// lastDim returns the size of x's last dim, or panics naming op for a scalar.
func lastDim(op string, x *Var) int {
	s := x.Value.Shape
	if len(s) == 0 {
		panic(fmt.Sprintf("autograd: %s: need at least 1 dim, got a scalar", op))
	}
	return s[len(s)-1]
}

// softmaxRow writes softmax(x) into y and returns the row's max and log of
// the sum of exp(x − max), from which log-softmax follows.
func softmaxRow(y, x []float32) (m float32, logZ float64) {
	m = x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	var z float64
	for j, v := range x {
		e := math.Exp(float64(v - m))
		y[j] = float32(e)
		z += e
	}
	for j := range y {
		y[j] = float32(float64(y[j]) / z)
	}
	return m, math.Log(z)
}
