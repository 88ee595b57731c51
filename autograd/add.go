package autograd

// Add returns a + b element-wise, with NumPy/PyTorch broadcasting.
func Add(a, b *Var) *Var {
	out := bcastShape("Add", a.Value.Shape, b.Value.Shape)
	y := bcastApply(out, a.Value, b.Value, addRow)
	return result(y, func(o *Var) {
		g := o.Grad.Data
		if a.requiresGrad {
			a.accumulate(bcastReduce(copyOf(g), out, a.Value.Shape))
		}
		if b.requiresGrad {
			b.accumulate(bcastReduce(copyOf(g), out, b.Value.Shape))
		}
	}, a, b)
}

func addRow(dst, a, b []float32, sa, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(dst)], b[:len(dst)]
		for i := range dst {
			dst[i] = a[i] + b[i]
		}
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
