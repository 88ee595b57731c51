package autograd

import (
	"ebyd/internal/vec"
	"ebyd/tensor"
)

// Add returns a + b element-wise, with NumPy/PyTorch broadcasting.
func Add(a, b *Var) *Var {
	out := bcastShape("Add", a.Value.Shape, b.Value.Shape)
	y := bcastApply(out, a.Value, b.Value, addRow)
	return result(y, func(o *Var) {
		g := o.Grad.Data
		if b.requiresGrad {
			b.accumulate(bcastReduce(copyOf(g), out, b.Value.Shape))
		}
		if a.requiresGrad {
			// The last use of o's gradient: a takes the buffer itself when
			// no reduction is needed (the common residual connection).
			if len(g) == a.Value.Len() {
				a.accumulate(o.take())
			} else {
				a.accumulate(bcastReduce(copyOf(g), out, a.Value.Shape))
			}
		}
	}, a, b)
}

func addRow(dst, a, b []float32, sa, sb int) {
	switch {
	case sa == 1 && sb == 1:
		tensor.ParallelElems(len(dst), func(lo, hi int) { vec.Add(dst[lo:hi], a[lo:hi], b[lo:hi]) })
	case sa == 1:
		a, c := a[:len(dst)], b[0]
		for i := range dst {
			dst[i] = a[i] + c
		}
	case sb == 1:
		c, b := a[0], b[:len(dst)]
		for i := range dst {
			dst[i] = c + b[i]
		}
	default:
		c := a[0] + b[0]
		for i := range dst {
			dst[i] = c
		}
	}
}
