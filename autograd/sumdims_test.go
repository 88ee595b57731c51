package autograd

import "testing"

func TestSumDimsGrad(t *testing.T) {
	x := RandVar(1, true, 2, 3, 2, 2)
	for _, dims := range [][]int{{0}, {1}, {0, 2, 3}, {-1}, {2, 3}, {0, 1, 2, 3}, {}} {
		for _, keep := range []bool{false, true} {
			ckGrad(t, func() *Var { return SumDims(x, dims, keep) }, x)
		}
	}
}

func TestSumDimsValues(t *testing.T) {
	// x[n][c][w], shape [2, 2, 3].
	x := param([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 2, 2, 3)
	ckValues(t, SumDims(x, []int{0}, false), []int{2, 3}, []float32{8, 10, 12, 14, 16, 18}, 0)
	ckValues(t, SumDims(x, []int{-1}, true), []int{2, 2, 1}, []float32{6, 15, 24, 33}, 0)
	ckValues(t, SumDims(x, []int{0, 2}, false), []int{2}, []float32{30, 48}, 0)
	ckValues(t, SumDims(x, []int{2, 0}, true), []int{1, 2, 1}, []float32{30, 48}, 0)
	ckValues(t, SumDims(x, []int{0, 1, 2}, false), []int{}, []float32{78}, 0)
	ckValues(t, SumDims(x, nil, false), []int{2, 2, 3}, x.Value.Data, 0)
	ckValues(t, SumDims(constOf([]float32{1, 2}, 1, 2), []int{0}, false), []int{2}, []float32{1, 2}, 0)
	y := SumDims(x, []int{1}, false) // [2, 3]
	Backward(Sum(Mul(y, constOf([]float32{1, 2, 3, 4, 5, 6}, 2, 3))))
	ckValues(t, &Var{Value: x.Grad}, []int{2, 2, 3}, []float32{1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}, 0)
	ckPanics(t, "autograd: SumDims: dim -1 repeated in [2 -1]", func() { SumDims(x, []int{2, -1}, false) })
	ckPanics(t, "autograd: SumDims: dim 3 out of range", func() { SumDims(x, []int{3}, false) })
}
