package autograd

import (
	"fmt"
	"math"

	"ebyd/tensor"
)

// UpsampleBilinear2d enlarges x [N, C, H, W] by an integer factor to
// [N, C, H·scale, W·scale] with bilinear interpolation, as
// torch.nn.Upsample(scale_factor=scale, mode='bilinear') and
// torch.nn.functional.interpolate with align_corners=False (PyTorch's default):
// output pixel o of an axis samples the input at (o + 0.5)/scale − 0.5,
// clamped to the first pixel below 0 and to the last one above the end, and
// blends the two input pixels around that point by their distance. For
// scale 2 the weights are 1/4 and 3/4 (1 and 0 at the borders), exact in
// float32. The arithmetic is PyTorch's CPU kernel's, in float32: the source
// coordinate is computed with the factor's reciprocal, and each output is
// (row h0 blended along W)·λh0 + (row h1 blended along W)·λh1.
func UpsampleBilinear2d(x *Var, scale int) *Var {
	xs := x.Value.Shape
	if len(xs) != 4 {
		panic(fmt.Sprintf("autograd: UpsampleBilinear2d: input %v is not 4-D", xs))
	}
	if scale < 1 {
		panic(fmt.Sprintf("autograd: UpsampleBilinear2d: scale %d must be at least 1", scale))
	}
	h, w := xs[2], xs[3]
	oh, ow := h*scale, w*scale
	rows, cols := linearTaps(h, oh, scale), linearTaps(w, ow, scale)
	planes, hw, ohw := xs[0]*xs[1], h*w, oh*ow
	xd := x.Value.Data
	y := newFull(xs[0], xs[1], oh, ow)
	tensor.Parallel(planes, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			src, dst := xd[p*hw:(p+1)*hw], y.Data[p*ohw:(p+1)*ohw]
			for i, r := range rows {
				r0, r1 := src[r.i0*w:(r.i0+1)*w], src[r.i1*w:(r.i1+1)*w]
				out := dst[i*ow : (i+1)*ow]
				for j, c := range cols {
					// Explicit conversions keep each product rounded to
					// float32, as PyTorch computes it (no fused multiply-add).
					t0 := float32(r0[c.i0]*c.l0) + float32(r0[c.i1]*c.l1)
					t1 := float32(r1[c.i0]*c.l0) + float32(r1[c.i1]*c.l1)
					out[j] = float32(t0*r.l0) + float32(t1*r.l1)
				}
			}
		}
	})
	return result(y, func(out *Var) {
		dy := out.Grad.Data
		dx := zeros(len(xd))
		tensor.Parallel(planes, func(_, lo, hi int) {
			for p := lo; p < hi; p++ {
				g, d := dy[p*ohw:(p+1)*ohw], dx[p*hw:(p+1)*hw]
				for i, r := range rows {
					d0, d1 := d[r.i0*w:(r.i0+1)*w], d[r.i1*w:(r.i1+1)*w]
					for j, c := range cols {
						v := g[i*ow+j]
						a, b := v*r.l0, v*r.l1
						d0[c.i0] += a * c.l0
						d0[c.i1] += a * c.l1
						d1[c.i0] += b * c.l0
						d1[c.i1] += b * c.l1
					}
				}
			}
		})
		x.accumulate(dx)
	}, x)
}

// linearTap is where one output pixel of an axis samples the input: pixels
// i0 and i1 with weights l0 and l1 (l0 + l1 = 1).
type linearTap struct {
	i0, i1 int
	l0, l1 float32
}

// linearTaps computes the taps of every output pixel of an axis of size out
// sampled from one of size in, as PyTorch's compute_indices_weights_linear
// with align_corners=False and a given scale factor.
func linearTaps(in, out, scale int) []linearTap {
	inv := float32(1 / float64(scale)) // PyTorch: (float)(1.0 / scale_factor)
	taps := make([]linearTap, out)
	for o := range taps {
		src := float32(inv*(float32(o)+0.5)) - 0.5
		if src < 0 {
			src = 0
		}
		i0 := min(int(math.Floor(float64(src))), in-1)
		l1 := min(max(src-float32(i0), 0), 1)
		i1 := i0
		if i0 < in-1 {
			i1 = i0 + 1
		}
		taps[o] = linearTap{i0: i0, i1: i1, l0: 1 - l1, l1: l1}
	}
	return taps
}
