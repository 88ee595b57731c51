package autograd

import (
	"math"
	"testing"
)

func TestMeanDimsGrad(t *testing.T) {
	x := RandVar(1, true, 2, 3, 2, 2)
	for _, dims := range [][]int{{0, 2, 3}, {-1, -2}, {1}} {
		for _, keep := range []bool{false, true} {
			ckGrad(t, func() *Var { return MeanDims(x, dims, keep) }, x)
		}
	}
}

func TestMeanDimsValues(t *testing.T) {
	// Per-channel means of an NCHW [2, 2, 1, 2] tensor.
	x := param([]float32{1, 2, 10, 20, 3, 4, 30, 40}, 2, 2, 1, 2)
	y := MeanDims(x, []int{0, 2, 3}, false)
	ckValues(t, y, []int{2}, []float32{2.5, 25}, 0)
	ckValues(t, MeanDims(x, []int{1}, true), []int{2, 1, 1, 2}, []float32{5.5, 11, 16.5, 22}, 0)
	Backward(Sum(Mul(y, constOf([]float32{4, 8}, 2))))
	ckValues(t, &Var{Value: x.Grad}, []int{2, 2, 1, 2}, []float32{1, 1, 2, 2, 1, 1, 2, 2}, 0)
	if v := MeanDims(constOf(nil, 0, 2), []int{0}, false).Value.Data; len(v) != 2 || !math.IsNaN(float64(v[0])) {
		t.Fatalf("mean over an empty dim: %v", v)
	}
	ckPanics(t, "autograd: MeanDims: dim 4 out of range", func() { MeanDims(x, []int{4}, false) })
}
