package autograd

import (
	"math/rand/v2"
	"testing"

	"ebyd/tensor"
)

func TestMaxPool2dGrad(t *testing.T) {
	// Distinct values at least 0.01 apart, so no finite-difference step
	// changes which element wins a window.
	x := RandVar(4, true, 2, 3, 6, 5)
	perm := rand.New(rand.NewPCG(1, 2)).Perm(x.Value.Len())
	for i, p := range perm {
		x.Value.Data[i] = float32(p)*0.01 - 0.9
	}
	for _, c := range [][3]int{{2, 2, 0}, {3, 2, 1}, {3, 1, 1}} {
		if err := CheckGrad(func() *Var { return MaxPool2d(x, c[0], c[1], c[2]) }, []*Var{x}, 1e-3, 1e-2); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
	}
}

func TestMaxPool2dValues(t *testing.T) {
	x := Const(tensorOf([]float32{1, 5, 2, 0, 3, 4, -1, 7, 9, 8, 6, 6, 0, 1, 2, 3}, 1, 1, 4, 4))
	y := MaxPool2d(x, 2, 2, 0).Value.Data
	want := []float32{5, 7, 9, 6}
	for i := range want {
		if y[i] != want[i] {
			t.Fatalf("got %v want %v", y, want)
		}
	}
}

func TestAvgPoolGrad(t *testing.T) {
	x := RandVar(5, true, 2, 3, 6, 4)
	if err := CheckGrad(func() *Var { return AvgPool2d(x, 2, 2) }, []*Var{x}, 1e-2, 1e-2); err != nil {
		t.Fatal(err)
	}
	if err := CheckGrad(func() *Var { return AvgPool2d(x, 3, 1) }, []*Var{x}, 1e-2, 1e-2); err != nil {
		t.Fatal(err)
	}
	if err := CheckGrad(func() *Var { return GlobalAvgPool2d(x) }, []*Var{x}, 1e-2, 1e-2); err != nil {
		t.Fatal(err)
	}
}

func TestAdaptiveAvgPoolGrad(t *testing.T) {
	x := RandVar(6, true, 2, 3, 5, 3)
	for _, o := range [][2]int{{7, 7}, {2, 2}, {1, 1}, {5, 3}, {3, 2}} {
		if err := CheckGrad(func() *Var { return AdaptiveAvgPool2d(x, o[0], o[1]) }, []*Var{x}, 1e-2, 1e-2); err != nil {
			t.Fatalf("%v: %v", o, err)
		}
	}
	// 2×2 to 3×3 (PyTorch): windows rows/cols {0}, {0,1}, {1}.
	in := NewVar(tensor.FromData([]float32{1, 2, 3, 4}, 1, 1, 2, 2), false)
	got := AdaptiveAvgPool2d(in, 3, 3).Value.Data
	want := []float32{1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
