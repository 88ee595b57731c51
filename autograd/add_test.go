package autograd

import "testing"

func TestAddGrad(t *testing.T) {
	for k, s := range bcastPairs {
		a, b := RandVar(uint64(k), true, s[0]...), RandVar(uint64(k+50), true, s[1]...)
		ckGrad(t, func() *Var { return Add(a, b) }, a, b)
	}
	x := RandVar(1, true, 2, 3)
	ckGrad(t, func() *Var { return Add(x, x) }, x)
	c := RandVar(2, false, 3, 1, 1) // a constant operand gets no gradient
	ckGrad(t, func() *Var { return Add(c, RandVar(3, false, 2, 3, 2, 2)) })
}

func TestAddValues(t *testing.T) {
	a := constOf([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	ckValues(t, Add(a, constOf([]float32{10, 20, 30}, 3)), []int{2, 3}, []float32{11, 22, 33, 14, 25, 36}, 0)
	ckValues(t, Add(constOf([]float32{10, 20}, 2, 1), a), []int{2, 3}, []float32{11, 12, 13, 24, 25, 26}, 0)
	ckValues(t, Add(a, constOf([]float32{0.5}, 1)), []int{2, 3}, []float32{1.5, 2.5, 3.5, 4.5, 5.5, 6.5}, 0)

	// The per-channel case, and the gradient summed back over N, H, W.
	x := param([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 2, 2, 1, 2)
	m := param([]float32{100, 200}, 1, 2, 1, 1)
	y := Add(x, m)
	ckValues(t, y, []int{2, 2, 1, 2}, []float32{101, 102, 203, 204, 105, 106, 207, 208}, 0)
	Backward(Sum(y))
	ckValues(t, &Var{Value: m.Grad}, []int{1, 2, 1, 1}, []float32{4, 4}, 0)
	ckValues(t, &Var{Value: x.Grad}, []int{2, 2, 1, 2}, []float32{1, 1, 1, 1, 1, 1, 1, 1}, 0)

	// Gradients into the same Var from both sides must not alias.
	z := param([]float32{1, 2}, 2)
	Backward(Sum(Add(z, z)))
	ckValues(t, &Var{Value: z.Grad}, []int{2}, []float32{2, 2}, 0)

	ckPanics(t, "autograd: Add: shapes [2 3] and [2] do not broadcast", func() { Add(a, constOf([]float32{1, 2}, 2)) })
}
