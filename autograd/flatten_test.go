package autograd

import "testing"

func TestFlatten(t *testing.T) {
	x := RandVar(1, true, 2, 2, 1, 3)
	w := RandVar(2, false, 2, 6)
	ckGrad(t, func() *Var { return Mul(Flatten(x), w) }, x)
	y := Flatten(constOf([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 2, 2, 2))
	ckValues(t, y, []int{2, 4}, []float32{1, 2, 3, 4, 5, 6, 7, 8}, 0)
	ckValues(t, Flatten(constOf(nil, 3, 0, 2)), []int{3, 0}, nil, 0)
	ckPanics(t, "autograd: Flatten: need at least 2 dims", func() { Flatten(constOf([]float32{1}, 1)) })
}
