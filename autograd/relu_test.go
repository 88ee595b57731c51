package autograd

import (
	"math"
	"testing"
)

func TestReLUGrad(t *testing.T) {
	x := RandVar(1, true, 3, 4)
	if err := CheckGrad(func() *Var { return ReLU(x) }, []*Var{x}, 1e-3, 1e-2); err != nil {
		t.Fatal(err)
	}
}

func TestReLUNoGraphOnConstants(t *testing.T) {
	y := ReLU(RandVar(1, false, 2))
	if y.RequiresGrad() || y.backward != nil {
		t.Fatal("an op on constants recorded a graph")
	}
}

func TestReLUValues(t *testing.T) {
	x := Param(tensorOf([]float32{-2, -0, 0, 1.5, float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.NaN())}, 7))
	y := ReLU(x)
	want := []float32{0, 0, 0, 1.5, 0, float32(math.Inf(1))}
	for i, w := range want {
		if y.Value.Data[i] != w || math.Signbit(float64(y.Value.Data[i])) {
			t.Fatalf("relu(%v)=%v want %v", x.Value.Data[i], y.Value.Data[i], w)
		}
	}
	if v := y.Value.Data[6]; v == v {
		t.Fatalf("relu(NaN)=%v, want NaN", v)
	}
	BackwardWith(y, tensorOf([]float32{1, 1, 1, 1, 1, 1, 0}, 7))
	for i, w := range []float32{0, 0, 0, 1, 0, 1} {
		if x.Grad.Data[i] != w {
			t.Fatalf("grad[%d]=%v want %v", i, x.Grad.Data[i], w)
		}
	}
}
