package autograd

import (
	"fmt"
	"math"

	"ebyd/internal/vec"
	"ebyd/tensor"
)

// BatchNormOpts are the settings of BatchNorm2d, with PyTorch's defaults when
// built by DefaultBatchNorm.
type BatchNormOpts struct {
	Training bool
	Momentum float32 // weight of the new batch statistic in the running update
	Eps      float32
	// ReLU applies a ReLU to the output in the same pass (BatchNorm then
	// ReLU, as ResNets use them), saving a pass over the activation each way.
	ReLU bool
}

// BatchNorm2d normalises x [N, C, H, W] per channel as
// torch.nn.functional.batch_norm. In training it uses the batch mean and
// biased variance and updates runMean/runVar in place with the unbiased
// variance; otherwise it uses the running statistics. gamma and beta ([C])
// may be nil (affine=False); they may also be derived Vars (a masked or noisy
// weight), and gradients flow through them.
func BatchNorm2d(x, gamma, beta *Var, runMean, runVar *tensor.Tensor, o BatchNormOpts) *Var {
	xs := x.Value.Shape
	if len(xs) != 4 {
		panic(fmt.Sprintf("autograd: BatchNorm2d: input %v is not 4-D", xs))
	}
	n, ch, hw := xs[0], xs[1], xs[2]*xs[3]
	for _, p := range []*Var{gamma, beta} {
		if p != nil && (len(p.Value.Shape) != 1 || p.Value.Shape[0] != ch) {
			panic(fmt.Sprintf("autograd: BatchNorm2d: parameter %v for %d channels", p.Value.Shape, ch))
		}
	}
	if !o.Training || runMean != nil {
		if runMean == nil || runVar == nil || runMean.Len() != ch || runVar.Len() != ch {
			panic(fmt.Sprintf("autograd: BatchNorm2d: running statistics missing or not of %d channels", ch))
		}
	}
	count := n * hw
	if o.Training && count <= 1 {
		panic(fmt.Sprintf("autograd: BatchNorm2d: training needs more than one value per channel, got input %v", xs))
	}
	xd := x.Value.Data
	y := newFull(xs...)
	mean := make([]float32, ch)
	invstd := make([]float32, ch)
	tensor.Parallel(ch, func(_, lo, hi int) {
		for c := lo; c < hi; c++ {
			plane := vec.Channel{Off: c * hw, N: n, Stride: ch * hw, HW: hw}
			var m, v float64
			if o.Training {
				// Two passes (mean, then squared deviations) for accuracy;
				// float32 within a plane, float64 across planes.
				m = vec.ChSum(xd, plane) / float64(count)
				ss := vec.ChSumSqDev(xd, plane, float32(m))
				v = ss / float64(count)
				if runMean != nil {
					mo := float64(o.Momentum)
					runMean.Data[c] = float32((1-mo)*float64(runMean.Data[c]) + mo*m)
					runVar.Data[c] = float32((1-mo)*float64(runVar.Data[c]) + mo*ss/float64(count-1))
				}
			} else {
				m, v = float64(runMean.Data[c]), float64(runVar.Data[c])
			}
			is := 1 / math.Sqrt(v+float64(o.Eps))
			mean[c], invstd[c] = float32(m), float32(is)
			// (x−mean)·scale + shift, not x·scale + (shift − mean·scale):
			// the latter cancels badly when the mean is large.
			mf, scale, shift := float32(m), float32(is), float32(0)
			if gamma != nil {
				scale *= gamma.Value.Data[c]
			}
			if beta != nil {
				shift = beta.Value.Data[c]
			}
			vec.ChAffine(y.Data, xd, nil, o.ReLU, plane, mf, scale, shift)
		}
	})
	return result(y, func(out *Var) {
		dy := out.Grad.Data
		var mask []float32 // with the fused ReLU, gradients pass where y ≠ 0
		if o.ReLU {
			mask = y.Data
		}
		var dx, dg, db []float32
		if x.requiresGrad {
			dx = scratch(len(xd))
		}
		if gamma != nil && gamma.requiresGrad {
			dg = make([]float32, ch)
		}
		if beta != nil && beta.requiresGrad {
			db = make([]float32, ch)
		}
		tensor.Parallel(ch, func(_, lo, hi int) {
			for c := lo; c < hi; c++ {
				plane := vec.Channel{Off: c * hw, N: n, Stride: ch * hw, HW: hw}
				m, is := mean[c], invstd[c]
				sdy, sdyx := vec.ChDotDev(dy, mask, xd, plane, m) // Σdy and Σdy·(x−m)
				sdyx *= float64(is)
				if dg != nil {
					dg[c] = float32(sdyx)
				}
				if db != nil {
					db[c] = float32(sdy)
				}
				if dx == nil {
					continue
				}
				gm := float32(1)
				if gamma != nil {
					gm = gamma.Value.Data[c]
				}
				k := gm * is
				if !o.Training {
					vec.ChAffine(dx, dy, mask, false, plane, 0, k, 0)
					continue
				}
				// dx = γ·σ⁻¹·(dy − mean(dy) − x̂·mean(dy·x̂))
				mdy := float32(sdy / float64(count))
				mdyx := float32(sdyx / float64(count))
				vec.ChBNGrad(dx, dy, mask, xd, plane, m, is, k, mdy, mdyx)
			}
		})
		if dx != nil {
			x.accumulate(dx)
		}
		if dg != nil {
			gamma.accumulate(dg)
		}
		if db != nil {
			beta.accumulate(db)
		}
	}, x, gamma, beta)
}
