package autograd

import (
	"fmt"

	"ebyd/tensor"
)

// SumDims sums x over the given dims (negative counts from the end; each at
// most once), as x.sum(dims, keepdim=keep) in PyTorch: with keep the reduced
// dims stay as size 1, otherwise they are removed. Sums are accumulated in
// float64 in a fixed order. Unlike PyTorch, an empty dims reduces nothing
// (the result is a copy of x); use Sum for a full reduction.
func SumDims(x *Var, dims []int, keep bool) *Var {
	return sumDims("SumDims", x, dims, keep, false)
}

// reducedShapes returns the shape of x with the reduced dims set to 1 and
// the output shape (without them unless keep), and the number of elements
// summed into each output element.
func reducedShapes(op string, shape, dims []int, keep bool) (kept, out []int, count int) {
	red := make([]bool, len(shape))
	for _, d := range dims {
		a := normAxis(op, d, len(shape))
		if red[a] {
			panic(fmt.Sprintf("autograd: %s: dim %d repeated in %v", op, d, dims))
		}
		red[a] = true
	}
	kept = append([]int(nil), shape...)
	out = []int{}
	count = 1
	for i, r := range red {
		if r {
			count *= shape[i]
			kept[i] = 1
			if keep {
				out = append(out, 1)
			}
			continue
		}
		out = append(out, shape[i])
	}
	return kept, out, count
}

// sumDims is SumDims, or MeanDims when mean is set.
func sumDims(op string, x *Var, dims []int, keep, mean bool) *Var {
	shape := x.Value.Shape
	kept, out, count := reducedShapes(op, shape, dims, keep)
	acc := bcastReduce64(x.Value.Data, shape, kept)
	scale := float32(1)
	if mean {
		scale = 1 / float32(count)
	}
	yd := make([]float32, len(acc))
	for i, v := range acc {
		if mean {
			v /= float64(count)
		}
		yd[i] = float32(v)
	}
	y := tensor.FromData(yd, out...)
	return result(y, func(o *Var) {
		g := bcastExpand(o.Grad.Data, kept, shape)
		if mean {
			for i := range g {
				g[i] *= scale
			}
		}
		x.accumulate(g)
	}, x)
}
