package autograd

import (
	"fmt"
	"math"

	"ebyd/tensor"
)

// MaxPool2d is torch.nn.functional.max_pool2d with a square kernel; padding
// positions never win. The gradient goes to the first maximum of each window.
func MaxPool2d(x *Var, kernel, stride, padding int) *Var {
	if stride == 0 {
		stride = kernel
	}
	xs := x.Value.Shape
	if len(xs) != 4 {
		panic(fmt.Sprintf("autograd: MaxPool2d: input %v is not 4-D", xs))
	}
	g := tensor.ConvGeom{H: xs[2], W: xs[3], KH: kernel, KW: kernel, SH: stride, SW: stride, PH: padding, PW: padding}
	if !g.Geometry() || padding*2 > kernel {
		panic(fmt.Sprintf("autograd: MaxPool2d: kernel %d, padding %d do not fit input %v", kernel, padding, xs))
	}
	planes, hw, ohw := xs[0]*xs[1], g.H*g.W, g.OH*g.OW
	xd := x.Value.Data
	y := newFull(xs[0], xs[1], g.OH, g.OW)
	arg := make([]int32, planes*ohw) // index of the winner inside its plane
	tensor.Parallel(planes, func(_, lo, hi int) {
		if kernel == 2 && stride == 2 && padding == 0 {
			maxPool2x2(xd, y.Data, arg, lo, hi, g)
			return
		}
		for p := lo; p < hi; p++ {
			src := xd[p*hw : (p+1)*hw]
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					best, bi := float32(math.Inf(-1)), int32(-1)
					for i := 0; i < kernel; i++ {
						ih := oh*stride - padding + i
						if ih < 0 || ih >= g.H {
							continue
						}
						for j := 0; j < kernel; j++ {
							iw := ow*stride - padding + j
							if iw < 0 || iw >= g.W {
								continue
							}
							// NaN propagates, as in PyTorch.
							if v := src[ih*g.W+iw]; v > best || bi < 0 || v != v {
								best, bi = v, int32(ih*g.W+iw)
							}
						}
					}
					o := p*ohw + oh*g.OW + ow
					y.Data[o], arg[o] = best, bi
				}
			}
		}
	})
	return result(y, func(out *Var) {
		dy := out.Grad.Data
		dx := zeros(len(xd))
		tensor.Parallel(planes, func(_, lo, hi int) {
			for p := lo; p < hi; p++ {
				for o := p * ohw; o < (p+1)*ohw; o++ {
					dx[p*hw+int(arg[o])] += dy[o]
				}
			}
		})
		x.accumulate(dx)
	}, x)
}

// maxPool2x2 is the common 2×2, stride-2 case without padding, unrolled.
// Ties and NaN follow the general loop: the first maximum in row-major window
// order wins, and NaN wins.
func maxPool2x2(xd, yd []float32, arg []int32, lo, hi int, g tensor.ConvGeom) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	for p := lo; p < hi; p++ {
		src := xd[p*hw : (p+1)*hw]
		dst, am := yd[p*ohw:(p+1)*ohw], arg[p*ohw:(p+1)*ohw]
		for oh := 0; oh < g.OH; oh++ {
			r0 := src[2*oh*g.W : (2*oh+1)*g.W]
			r1 := src[(2*oh+1)*g.W : (2*oh+2)*g.W]
			for ow := 0; ow < g.OW; ow++ {
				i0 := 2 * ow
				best, bi := r0[i0], int32(2*oh*g.W+i0)
				if v := r0[i0+1]; v > best || v != v {
					best, bi = v, bi+1
				}
				base := int32((2*oh+1)*g.W + i0)
				if v := r1[i0]; v > best || v != v {
					best, bi = v, base
				}
				if v := r1[i0+1]; v > best || v != v {
					best, bi = v, base+1
				}
				dst[oh*g.OW+ow], am[oh*g.OW+ow] = best, bi
			}
		}
	}
}
