package autograd

import (
	"fmt"

	"ebyd/internal/blas"
	"ebyd/tensor"
)

// Linear is torch.nn.functional.linear: x [N, in], w [out, in], b [out] or
// nil, giving x·wᵀ + b of shape [N, out].
func Linear(x, w, b *Var) *Var {
	xs, ws := x.Value.Shape, w.Value.Shape
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] {
		panic(fmt.Sprintf("autograd: Linear: input %v does not fit weight %v", xs, ws))
	}
	n, in, outF := xs[0], xs[1], ws[0]
	if b != nil && (len(b.Value.Shape) != 1 || b.Value.Shape[0] != outF) {
		panic(fmt.Sprintf("autograd: Linear: bias %v for %d outputs", b.Value.Shape, outF))
	}
	xd, wd := x.Value.Data, w.Value.Data
	y := newFull(n, outF)
	tensor.Parallel(n, func(_, lo, hi int) {
		blas.Sgemm(false, true, hi-lo, outF, in, 1, xd[lo*in:], in, wd, in, 0, y.Data[lo*outF:], outF)
	})
	if b != nil {
		addBias(y.Data, b.Value.Data, n, outF, 1)
	}
	return result(y, func(out *Var) {
		dy := out.Grad.Data
		if x.requiresGrad {
			dx := x.gradBuf().Data
			tensor.Parallel(n, func(_, lo, hi int) {
				blas.Sgemm(false, false, hi-lo, in, outF, 1, dy[lo*outF:], outF, wd, in, 1, dx[lo*in:], in)
			})
		}
		if w.requiresGrad {
			// Partition dW by output rows: each element is one full sum over
			// the batch, so no cross-worker reduction is needed.
			dw := w.gradBuf().Data
			tensor.Parallel(outF, func(_, lo, hi int) {
				blas.Sgemm(true, false, hi-lo, in, n, 1, dy[lo:], outF, xd, in, 1, dw[lo*in:], in)
			})
		}
		if b != nil && b.requiresGrad {
			b.accumulate(biasGrad(dy, n, outF, 1))
		}
	}, x, w, b)
}
