package autograd

// Div returns a / b element-wise, with NumPy/PyTorch broadcasting. Division
// by zero follows IEEE 754 (±Inf or NaN), as in PyTorch.
func Div(a, b *Var) *Var {
	out := bcastShape("Div", a.Value.Shape, b.Value.Shape)
	y := bcastApply(out, a.Value, b.Value, divRow)
	return result(y, func(o *Var) {
		q := bcastApply(out, o.Grad, b.Value, divRow).Data // g/b, fresh
		if b.requiresGrad {
			// ∂/∂b = −g·a/b² = −(g/b)·y, computed before q is given away.
			gb := make([]float32, len(q))
			for i, v := range q {
				gb[i] = -v * y.Data[i]
			}
			b.accumulate(bcastReduce(gb, out, b.Value.Shape))
		}
		if a.requiresGrad {
			a.accumulate(bcastReduce(q, out, a.Value.Shape)) // ∂/∂a = g/b
		}
	}, a, b)
}

func divRow(dst, a, b []float32, sa, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(dst)], b[:len(dst)]
		for i := range dst {
			dst[i] = a[i] / b[i]
		}
	case sa == 1:
		a, c := a[:len(dst)], b[0]
		for i := range dst {
			dst[i] = a[i] / c
		}
	case sb == 1:
		c, b := a[0], b[:len(dst)]
		for i := range dst {
			dst[i] = c / b[i]
		}
	default:
		c := a[0] / b[0]
		for i := range dst {
			dst[i] = c
		}
	}
}
