package autograd

import (
	"fmt"

	"ebyd/tensor"
)

// Concat joins xs along dim (negative counts from the end) as torch.cat: all
// inputs have the same rank and the same sizes outside dim.
func Concat(dim int, xs ...*Var) *Var {
	if len(xs) == 0 {
		panic("autograd: Concat: no inputs")
	}
	s0 := xs[0].Value.Shape
	d := normAxis("Concat", dim, len(s0))
	outer := tensor.Numel(s0[:d])
	inner := tensor.Numel(s0[d+1:])
	out := append([]int(nil), s0...)
	out[d] = 0
	for k, x := range xs {
		s := x.Value.Shape
		ok := len(s) == len(s0)
		for i := 0; ok && i < len(s); i++ {
			ok = i == d || s[i] == s0[i]
		}
		if !ok {
			panic(fmt.Sprintf("autograd: Concat: input %d has shape %v, input 0 has %v (dim %d)", k, s, s0, d))
		}
		out[d] += s[d]
	}
	y := tensor.New(out...)
	row := out[d] * inner // output elements per outer index
	off := 0              // offset of the current input's block in a row
	for _, x := range xs {
		blk := x.Value.Shape[d] * inner
		for o := range outer {
			copy(y.Data[o*row+off:o*row+off+blk], x.Value.Data[o*blk:(o+1)*blk])
		}
		off += blk
	}
	return result(y, func(o *Var) {
		g := o.Grad.Data
		off := 0
		for _, x := range xs {
			blk := x.Value.Shape[d] * inner
			if x.requiresGrad {
				gx := make([]float32, outer*blk)
				for i := range outer {
					copy(gx[i*blk:(i+1)*blk], g[i*row+off:i*row+off+blk])
				}
				x.accumulate(gx)
			}
			off += blk
		}
	}, xs...)
}
