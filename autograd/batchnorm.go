package autograd

import (
	"fmt"
	"math"

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
					s += float64(sum32(xd[(i*ch+c)*hw : (i*ch+c+1)*hw]))
				}
				m = s / float64(count)
				var ss float64
				for i := 0; i < n; i++ {
					ss += float64(sumSqDev32(xd[(i*ch+c)*hw:(i*ch+c+1)*hw], float32(m)))
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
				for j, a := range src {
					dst[j] = (a-mf)*scale + shift
				}
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
					a, b := dotDev32(g, src, m)
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
						for j, v := range g {
							d[j] = v * k
						}
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
					for j, v := range src {
						xh := (v - m) * is
						d[j] = k * (g[j] - mdy - xh*mdyx)
					}
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

// sum32 sums x with four independent accumulators (room for the CPU to
// overlap the additions).
func sum32(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// sumSqDev32 is Σ(x−m)².
func sumSqDev32(x []float32, m float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		d0, d1, d2, d3 := x[i]-m, x[i+1]-m, x[i+2]-m, x[i+3]-m
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := x[i] - m
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// dotDev32 returns Σg and Σg·(x−m).
func dotDev32(g, x []float32, m float32) (float32, float32) {
	var a0, a1, b0, b1 float32
	i := 0
	x = x[:len(g)]
	for ; i+2 <= len(g); i += 2 {
		a0 += g[i]
		a1 += g[i+1]
		b0 += g[i] * (x[i] - m)
		b1 += g[i+1] * (x[i+1] - m)
	}
	for ; i < len(g); i++ {
		a0 += g[i]
		b0 += g[i] * (x[i] - m)
	}
	return a0 + a1, b0 + b1
}
