package autograd

import (
	"math"
	"testing"
)

func TestLog(t *testing.T) {
	x := positive(1, 0.2, 2, 3)
	ckGrad(t, func() *Var { return Log(x) }, x)
	p := param([]float32{1, 2.7182817, 0.5}, 3)
	y := Log(p)
	ckValues(t, y, []int{3}, []float32{0, 1, -0.6931472}, 1e-6)
	Backward(Sum(y))
	ckValues(t, &Var{Value: p.Grad}, []int{3}, []float32{1, 0.36787945, 2}, 1e-6)
	z := Log(constOf([]float32{0, -1}, 2)).Value.Data
	if !math.IsInf(float64(z[0]), -1) || !math.IsNaN(float64(z[1])) {
		t.Fatalf("log(0), log(-1) = %v", z)
	}
}
