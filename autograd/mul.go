package autograd

// Mul returns a · b element-wise, with NumPy/PyTorch broadcasting.
func Mul(a, b *Var) *Var {
	out := bcastShape("Mul", a.Value.Shape, b.Value.Shape)
	y := bcastApply(out, a.Value, b.Value, mulRow)
	return result(y, func(o *Var) {
		g := o.Grad
		if a.requiresGrad {
			// ∂/∂a = g·b, summed over the dims a was broadcast along.
			ga := bcastApply(out, g, b.Value, mulRow)
			a.accumulate(bcastReduce(ga.Data, out, a.Value.Shape))
		}
		if b.requiresGrad {
			gb := bcastApply(out, g, a.Value, mulRow)
			b.accumulate(bcastReduce(gb.Data, out, b.Value.Shape))
		}
	}, a, b)
}

func mulRow(dst, a, b []float32, sa, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(dst)], b[:len(dst)]
		for i := range dst {
			dst[i] = a[i] * b[i]
		}
	case sa == 1:
		a, c := a[:len(dst)], b[0]
		for i := range dst {
			dst[i] = a[i] * c
		}
	case sb == 1:
		c, b := a[0], b[:len(dst)]
		for i := range dst {
			dst[i] = c * b[i]
		}
	default:
		c := a[0] * b[0]
		for i := range dst {
			dst[i] = c
		}
	}
}
