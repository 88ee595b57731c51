package autograd

import (
	"fmt"

	"ebyd/tensor"
)

// AdaptiveAvgPool2d is torch.nn.functional.adaptive_avg_pool2d(x, (oh, ow)):
// output cell (i, j) averages input rows floor(i·H/oh) … ceil((i+1)·H/oh)−1
// and the columns likewise; the windows overlap (or repeat one input) when
// the output is larger than the input.
func AdaptiveAvgPool2d(x *Var, oh, ow int) *Var {
	xs := x.Value.Shape
	if len(xs) != 4 || oh < 1 || ow < 1 {
		panic(fmt.Sprintf("autograd: AdaptiveAvgPool2d: input %v, output %d×%d", xs, oh, ow))
	}
	h, w := xs[2], xs[3]
	if h < 1 || w < 1 {
		panic(fmt.Sprintf("autograd: AdaptiveAvgPool2d: empty input %v", xs))
	}
	bounds := func(i, out, in int) (int, int) { return i * in / out, ((i+1)*in + out - 1) / out }
	planes, hw, ohw := xs[0]*xs[1], h*w, oh*ow
	xd := x.Value.Data
	y := tensor.New(xs[0], xs[1], oh, ow)
	tensor.Parallel(planes, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			src := xd[p*hw : (p+1)*hw]
			for i := 0; i < oh; i++ {
				h0, h1 := bounds(i, oh, h)
				for j := 0; j < ow; j++ {
					w0, w1 := bounds(j, ow, w)
					var s float32
					for r := h0; r < h1; r++ {
						for c := w0; c < w1; c++ {
							s += src[r*w+c]
						}
					}
					y.Data[p*ohw+i*ow+j] = s / float32((h1-h0)*(w1-w0))
				}
			}
		}
	})
	return result(y, func(out *Var) {
		dy := out.Grad.Data
		dx := make([]float32, len(xd))
		tensor.Parallel(planes, func(_, lo, hi int) {
			for p := lo; p < hi; p++ {
				dst := dx[p*hw : (p+1)*hw]
				for i := 0; i < oh; i++ {
					h0, h1 := bounds(i, oh, h)
					for j := 0; j < ow; j++ {
						w0, w1 := bounds(j, ow, w)
						v := dy[p*ohw+i*ow+j] / float32((h1-h0)*(w1-w0))
						for r := h0; r < h1; r++ {
							for c := w0; c < w1; c++ {
								dst[r*w+c] += v
							}
						}
					}
				}
			}
		})
		x.accumulate(dx)
	}, x)
}
