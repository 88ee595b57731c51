package autograd

import (
	"fmt"

	"ebyd/tensor"
)

// AvgPool2d is torch.nn.functional.avg_pool2d with a square kernel, no
// padding (count_include_pad is then irrelevant) and floor mode.
func AvgPool2d(x *Var, kernel, stride int) *Var {
	if stride == 0 {
		stride = kernel
	}
	xs := x.Value.Shape
	if len(xs) != 4 {
		panic(fmt.Sprintf("autograd: AvgPool2d: input %v is not 4-D", xs))
	}
	g := tensor.ConvGeom{H: xs[2], W: xs[3], KH: kernel, KW: kernel, SH: stride, SW: stride}
	if !g.Geometry() {
		panic(fmt.Sprintf("autograd: AvgPool2d: kernel %d does not fit input %v", kernel, xs))
	}
	planes, hw, ohw := xs[0]*xs[1], g.H*g.W, g.OH*g.OW
	inv := 1 / float32(kernel*kernel)
	xd := x.Value.Data
	y := tensor.New(xs[0], xs[1], g.OH, g.OW)
	tensor.Parallel(planes, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			src := xd[p*hw:]
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					var s float32
					for i := 0; i < kernel; i++ {
						row := src[(oh*stride+i)*g.W+ow*stride:]
						for j := 0; j < kernel; j++ {
							s += row[j]
						}
					}
					y.Data[p*ohw+oh*g.OW+ow] = s * inv
				}
			}
		}
	})
	return result(y, func(out *Var) {
		dy := out.Grad.Data
		dx := make([]float32, len(xd))
		tensor.Parallel(planes, func(_, lo, hi int) {
			for p := lo; p < hi; p++ {
				dst := dx[p*hw:]
				for oh := 0; oh < g.OH; oh++ {
					for ow := 0; ow < g.OW; ow++ {
						v := dy[p*ohw+oh*g.OW+ow] * inv
						for i := 0; i < kernel; i++ {
							row := dst[(oh*stride+i)*g.W+ow*stride:]
							for j := 0; j < kernel; j++ {
								row[j] += v
							}
						}
					}
				}
			}
		})
		x.accumulate(dx)
	}, x)
}

// GlobalAvgPool2d is adaptive_avg_pool2d(x, 1): the mean of each channel
// plane, giving [N, C, 1, 1].
func GlobalAvgPool2d(x *Var) *Var {
	xs := x.Value.Shape
	if len(xs) != 4 {
		panic(fmt.Sprintf("autograd: GlobalAvgPool2d: input %v is not 4-D", xs))
	}
	planes, hw := xs[0]*xs[1], xs[2]*xs[3]
	xd := x.Value.Data
	y := tensor.New(xs[0], xs[1], 1, 1)
	for p := 0; p < planes; p++ {
		var s float32
		for _, v := range xd[p*hw : (p+1)*hw] {
			s += v
		}
		y.Data[p] = s / float32(hw)
	}
	return result(y, func(out *Var) {
		dy := out.Grad.Data
		dx := make([]float32, len(xd))
		for p := 0; p < planes; p++ {
			v := dy[p] / float32(hw)
			row := dx[p*hw : (p+1)*hw]
			for j := range row {
				row[j] = v
			}
		}
		x.accumulate(dx)
	}, x)
}
