package autograd

import (
	"math"
	"testing"
)

func TestMean(t *testing.T) {
	x := RandVar(1, true, 2, 3)
	ckGrad(t, func() *Var { return Mean(x) }, x)
	p := param([]float32{1, 2, 3, 6}, 2, 2)
	y := Mean(p)
	ckValues(t, y, []int{}, []float32{3}, 0)
	Backward(y)
	ckValues(t, &Var{Value: p.Grad}, []int{2, 2}, []float32{0.25, 0.25, 0.25, 0.25}, 0)
	if !math.IsNaN(float64(Mean(constOf(nil, 0)).Item())) {
		t.Fatal("mean of nothing is not NaN")
	}
}
