package autograd

import "testing"

func TestSum(t *testing.T) {
	x := RandVar(1, true, 2, 3)
	ckGrad(t, func() *Var { return Sum(x) }, x)
	p := param([]float32{1, 2, 3, 4}, 2, 2)
	y := Sum(p)
	ckValues(t, y, []int{}, []float32{10}, 0)
	Backward(Scale(y, 2))
	ckValues(t, &Var{Value: p.Grad}, []int{2, 2}, []float32{2, 2, 2, 2}, 0)
	ckValues(t, Sum(constOf(nil, 0)), []int{}, []float32{0}, 0)
	// float64 accumulation: in float32, 2²⁴ + 1 rounds back to 2²⁴, so
	// adding four ones one by one would give 2²⁴.
	if got := Sum(constOf([]float32{1 << 24, 1, 1, 1, 1}, 5)).Item(); got != 1<<24+4 {
		t.Fatalf("2²⁴ + 4·1 = %v", got)
	}
}
