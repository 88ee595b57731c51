package autograd

import (
	"fmt"

	"ebyd/tensor"
)

// Broadcasting machinery shared by the element-wise binary ops (Add, Sub, Mul,
// Div) and the per-axis reductions (SumDims, MeanDims).
//
// Shapes broadcast as in NumPy and PyTorch: they are aligned on their trailing
// dimensions, a missing leading dimension counts as 1, and a dimension of size
// 1 stretches to the other operand's size. An iteration over the output is
// described by a bcastPlan: the output shape with every size-1 dimension
// dropped and adjacent dimensions merged wherever every operand is contiguous
// across them (or broadcast across both), and one stride per operand and
// dimension, 0 where that operand is broadcast. After merging, the innermost
// stride of every operand is 1 or 0, so the work is a sequence of "rows": a
// contiguous run of the output against a contiguous run or a single repeated
// value of each operand. The common cases are a single row: same shapes, or a
// scalar against anything; a per-channel [C,1,1] or [1,C,1,1] tensor against
// [N,C,H,W] collapses to [N, C, H·W] with rows of length H·W.

// bcastShape returns the broadcast shape of a and b, or panics naming op.
func bcastShape(op string, a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 1; i <= n; i++ {
		da, db := 1, 1
		if i <= len(a) {
			da = a[len(a)-i]
		}
		if i <= len(b) {
			db = b[len(b)-i]
		}
		switch {
		case da == db, db == 1:
			out[n-i] = da
		case da == 1:
			out[n-i] = db
		default:
			panic(fmt.Sprintf("autograd: %s: shapes %v and %v do not broadcast", op, a, b))
		}
	}
	return out
}

// bcastPlan iterates an output shape against operands broadcast to it.
type bcastPlan struct {
	dims    []int   // collapsed output dimensions; never empty
	strides [][]int // strides[k][d]: step of operand k along dims[d]
}

// newBcastPlan builds the plan for out (the broadcast of every operand shape).
func newBcastPlan(out []int, operands ...[]int) *bcastPlan {
	r := len(out)
	k := len(operands)
	// Strides of each operand in output coordinates (0 where broadcast).
	full := make([][]int, k)
	for j, s := range operands {
		st := make([]int, r)
		step := 1
		for i := 1; i <= r; i++ {
			d := 1
			if i <= len(s) {
				d = s[len(s)-i]
			}
			if d != 1 {
				st[r-i] = step
				step *= d
			}
		}
		full[j] = st
	}
	p := &bcastPlan{strides: make([][]int, k)}
	for i := 0; i < r; i++ {
		if out[i] == 1 {
			continue // size-1 output dims carry no iteration
		}
		if n := len(p.dims); n > 0 {
			// Merge into the previous kept dim when every operand walks
			// the pair as one run: prev stride == this stride × this size.
			merge := true
			for j := range k {
				if p.strides[j][n-1] != full[j][i]*out[i] {
					merge = false
					break
				}
			}
			if merge {
				p.dims[n-1] *= out[i]
				for j := range k {
					p.strides[j][n-1] = full[j][i]
				}
				continue
			}
		}
		p.dims = append(p.dims, out[i])
		for j := range k {
			p.strides[j] = append(p.strides[j], full[j][i])
		}
	}
	if len(p.dims) == 0 { // a one-element output
		p.dims = []int{1}
		for j := range k {
			p.strides[j] = []int{0}
		}
	}
	return p
}

// rows calls fn for every innermost row of the plan, in output order, with the
// output offset, each operand's offset (offs, reused between calls), the row
// length, and each operand's inner stride (steps, 0 or 1).
func (p *bcastPlan) rows(fn func(o int, offs []int, n int, steps []int)) {
	r := len(p.dims)
	k := len(p.strides)
	n := p.dims[r-1]
	steps := make([]int, k)
	for j := range k {
		steps[j] = p.strides[j][r-1]
	}
	offs := make([]int, k)
	base := make([]int, k)
	idx := make([]int, r-1)
	for o := 0; ; o += n {
		copy(offs, base)
		fn(o, offs, n, steps)
		// Odometer over the outer dims.
		d := r - 2
		for ; d >= 0; d-- {
			idx[d]++
			for j := range k {
				base[j] += p.strides[j][d]
			}
			if idx[d] < p.dims[d] {
				break
			}
			for j := range k {
				base[j] -= p.strides[j][d] * p.dims[d]
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// rowKernel computes dst[i] = f(a[i·sa], b[i·sb]) for i < len(dst), where
// sa and sb are 0 (a single repeated value) or 1 (a contiguous run).
type rowKernel func(dst, a, b []float32, sa, sb int)

// bcastApply evaluates a binary element-wise kernel over the broadcast of a
// and b (whose shapes must already broadcast to out).
func bcastApply(out []int, a, b *tensor.Tensor, kern rowKernel) *tensor.Tensor {
	y := newFull(out...)
	switch {
	case len(y.Data) == 0:
	case tensor.SameShape(a.Shape, b.Shape):
		kern(y.Data, a.Data, b.Data, 1, 1)
	case len(b.Data) == 1 && len(a.Data) == len(y.Data):
		kern(y.Data, a.Data, b.Data, 1, 0)
	case len(a.Data) == 1 && len(b.Data) == len(y.Data):
		kern(y.Data, a.Data, b.Data, 0, 1)
	default:
		p := newBcastPlan(out, a.Shape, b.Shape)
		p.rows(func(o int, offs []int, n int, st []int) {
			kern(y.Data[o:o+n], a.Data[offs[0]:], b.Data[offs[1]:], st[0], st[1])
		})
	}
	return y
}

// bcastExpand returns x broadcast to shape out (a fresh tensor).
func bcastExpand(x []float32, shape, out []int) []float32 {
	if tensor.Numel(shape) == tensor.Numel(out) {
		return append([]float32(nil), x...)
	}
	y := make([]float32, tensor.Numel(out))
	if len(y) == 0 {
		return y
	}
	p := newBcastPlan(out, shape)
	p.rows(func(o int, offs []int, n int, st []int) {
		if st[0] == 1 {
			copy(y[o:o+n], x[offs[0]:offs[0]+n])
			return
		}
		v := x[offs[0]]
		for i := range y[o : o+n] {
			y[o+i] = v
		}
	})
	return y
}

// bcastReduce sums g, of shape out, down to shape (which broadcasts to out),
// accumulating in float64 in a fixed order. When no reduction is needed it
// returns g itself, so g must be a fresh slice the caller may give away.
func bcastReduce(g []float32, out, shape []int) []float32 {
	if tensor.Numel(shape) == len(g) {
		return g
	}
	acc := bcastReduce64(g, out, shape)
	r := make([]float32, len(acc))
	for i, v := range acc {
		r[i] = float32(v)
	}
	return r
}

// bcastReduce64 is bcastReduce keeping the float64 sums.
func bcastReduce64(g []float32, out, shape []int) []float64 {
	acc := make([]float64, tensor.Numel(shape))
	if len(g) == 0 {
		return acc
	}
	p := newBcastPlan(out, shape)
	p.rows(func(o int, offs []int, n int, st []int) {
		row := g[o : o+n]
		t := offs[0]
		if st[0] == 1 {
			a := acc[t : t+n]
			for i, v := range row {
				a[i] += float64(v)
			}
			return
		}
		var s float64
		for _, v := range row {
			s += float64(v)
		}
		acc[t] += s
	})
	return acc
}

// normAxis resolves a possibly negative axis (−1 is the last) of a tensor of
// the given rank, or panics naming op.
func normAxis(op string, d, rank int) int {
	if d < -rank || d >= rank {
		panic(fmt.Sprintf("autograd: %s: dim %d out of range for a %d-D tensor", op, d, rank))
	}
	if d < 0 {
		d += rank
	}
	return d
}
