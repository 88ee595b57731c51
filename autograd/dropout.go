package autograd

import (
	"fmt"
	"math/rand/v2"
)

// Dropout zeroes each element of x with probability p and scales the kept
// ones by 1/(1−p) (inverted dropout, as torch.nn.functional.dropout in
// training). It always applies: callers (a module in training mode) decide
// whether to call it. The mask is drawn from rng sequentially in element
// order, one rng.Float32() per element (dropped when < p), so the same seed
// gives the same mask. p = 0 returns x itself and draws nothing; p = 1
// returns zeros (with zero gradient) and draws nothing.
func Dropout(x *Var, p float32, rng *rand.Rand) *Var {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("autograd: Dropout: p = %v not in [0, 1]", p))
	}
	if p == 0 {
		return x
	}
	xd := x.Value.Data
	y := newOut(x.Value.Shape...)
	var mask []float32 // the factor applied to each element: 0 or 1/(1−p)
	if p < 1 {
		if rng == nil {
			panic("autograd: Dropout: nil rng")
		}
		scale := 1 / (1 - p)
		mask = make([]float32, len(xd))
		for i, v := range xd {
			if rng.Float32() >= p {
				mask[i] = scale
				y.Data[i] = v * scale
			}
		}
	}
	return result(y, func(out *Var) {
		g := zeros(len(xd))
		if mask != nil {
			for i, v := range out.Grad.Data {
				g[i] = v * mask[i]
			}
		}
		x.accumulate(g)
	}, x)
}
