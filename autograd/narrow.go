package autograd

import (
	"fmt"

	"ebyd/tensor"
)

// Narrow returns the slice start ≤ i < start+length of x along dim (negative
// counts from the end), as torch.narrow; the result is a copy.
func Narrow(x *Var, dim, start, length int) *Var {
	s := x.Value.Shape
	d := normAxis("Narrow", dim, len(s))
	if start < 0 || length < 0 || start+length > s[d] {
		panic(fmt.Sprintf("autograd: Narrow: [%d, %d) out of range for dim %d of shape %v", start, start+length, d, s))
	}
	outer := tensor.Numel(s[:d])
	inner := tensor.Numel(s[d+1:])
	out := append([]int(nil), s...)
	out[d] = length
	y := tensor.New(out...)
	row, blk, off := s[d]*inner, length*inner, start*inner
	for o := range outer {
		copy(y.Data[o*blk:(o+1)*blk], x.Value.Data[o*row+off:o*row+off+blk])
	}
	return result(y, func(o *Var) {
		g := o.Grad.Data
		gx := x.gradBuf().Data
		for i := range outer {
			dst := gx[i*row+off : i*row+off+blk]
			for j, v := range g[i*blk : (i+1)*blk] {
				dst[j] += v
			}
		}
	}, x)
}
