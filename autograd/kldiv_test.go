package autograd

import (
	"math"
	"testing"
)

func TestKLDivGrad(t *testing.T) {
	z := RandVar(1, true, 3, 4)
	qs := RandVar(2, true, 3, 4)
	ckGrad(t, func() *Var { return KLDiv(LogSoftmax(z), Softmax(qs)) }, z, qs)
	lp, q := RandVar(3, true, 2, 3), positive(4, 0.1, 2, 3) // raw inputs
	ckGrad(t, func() *Var { return KLDiv(lp, q) }, lp, q)
}

func TestKLDivValues(t *testing.T) {
	// Two rows: p = [0.5, 0.5], q = [0.25, 0.75]; and p = q = [1, 0] with log 0 = −Inf.
	lp := param([]float32{float32(math.Log(0.5)), float32(math.Log(0.5)), 0, float32(math.Inf(-1))}, 2, 2)
	q := param([]float32{0.25, 0.75, 1, 0}, 2, 2)
	y := KLDiv(lp, q)
	// (0.25·ln 0.5 + 0.75·ln 1.5) / 2 = (−0.1732868 + 0.3040988) / 2.
	ckValues(t, y, []int{}, []float32{0.065406}, 1e-5)
	Backward(y)
	ckValues(t, &Var{Value: lp.Grad}, []int{2, 2}, []float32{-0.125, -0.375, -0.5, 0}, 1e-7)
	// (ln q + 1 − logP)/2: (ln 0.5 + 1)/2, (ln 1.5 + 1)/2, 0.5, and 0 where q = 0.
	ckValues(t, &Var{Value: q.Grad}, []int{2, 2}, []float32{0.15342641, 0.70273256, 0.5, 0}, 1e-6)
	// batchmean divides by the batch, not the element count.
	one := KLDiv(constOf([]float32{float32(math.Log(0.5)), float32(math.Log(0.5))}, 1, 2), constOf([]float32{1, 0}, 1, 2))
	ckValues(t, one, []int{}, []float32{0.6931472}, 1e-6)
	ckPanics(t, "autograd: KLDiv: logP has shape [2 2], q has [4]", func() { KLDiv(lp, constOf([]float32{1, 2, 3, 4}, 4)) })
}
