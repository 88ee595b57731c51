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
			var m, v float64
			if o.Training {
				// Two passes (mean, then squared deviations) for accuracy;
				// float32 within a plane, float64 across planes.
				var s float64
				for i := 0; i < n; i++ {
					s += float64(vec.Sum(xd[(i*ch+c)*hw : (i*ch+c+1)*hw]))
				}
				m = s / float64(count)
				var ss float64
				for i := 0; i < n; i++ {
					ss += float64(vec.SumSqDev(xd[(i*ch+c)*hw:(i*ch+c+1)*hw], float32(m)))
				}
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
			for i := 0; i < n; i++ {
				src := xd[(i*ch+c)*hw : (i*ch+c+1)*hw]
				dst := y.Data[(i*ch+c)*hw : (i*ch+c+1)*hw]
				vec.Affine(dst, src, mf, scale, shift)
			}
		}
	})
	return result(y, func(out *Var) {
		dy := out.Grad.Data
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
				m, is := mean[c], invstd[c]
				var sdy, sdyx float64 // Σdy and Σdy·x̂
				for i := 0; i < n; i++ {
					src := xd[(i*ch+c)*hw : (i*ch+c+1)*hw]
					g := dy[(i*ch+c)*hw : (i*ch+c+1)*hw]
					a, b := vec.DotDev(g, src, m)
					sdy += float64(a)
					sdyx += float64(b)
				}
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
					for i := 0; i < n; i++ {
						g := dy[(i*ch+c)*hw : (i*ch+c+1)*hw]
						d := dx[(i*ch+c)*hw : (i*ch+c+1)*hw]
						vec.Affine(d, g, 0, k, 0)
					}
					continue
				}
				// dx = γ·σ⁻¹·(dy − mean(dy) − x̂·mean(dy·x̂))
				mdy := float32(sdy / float64(count))
				mdyx := float32(sdyx / float64(count))
				for i := 0; i < n; i++ {
					src := xd[(i*ch+c)*hw : (i*ch+c+1)*hw]
					g := dy[(i*ch+c)*hw : (i*ch+c+1)*hw]
					d := dx[(i*ch+c)*hw : (i*ch+c+1)*hw]
					vec.BNGrad(d, g, src, m, is, k, mdy, mdyx)
				}
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
