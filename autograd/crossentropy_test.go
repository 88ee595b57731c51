package autograd

import (
	"math"
	"testing"
)

func TestCrossEntropyGrad(t *testing.T) {
	x := RandVar(6, true, 4, 5)
	labels := []int{0, 4, 2, 2}
	if err := CheckGrad(func() *Var { return CrossEntropy(x, labels) }, []*Var{x}, 1e-3, 1e-2); err != nil {
		t.Fatal(err)
	}
	if err := CheckGrad(func() *Var { return CrossEntropyPerSample(x, labels) }, []*Var{x}, 1e-3, 1e-2); err != nil {
		t.Fatal(err)
	}
}

func TestCrossEntropyValue(t *testing.T) {
	// Uniform logits over 4 classes: loss log 4.
	x := Const(tensorOf(make([]float32, 8), 2, 4))
	got := CrossEntropy(x, []int{1, 3}).Item()
	if math.Abs(float64(got)-math.Log(4)) > 1e-6 {
		t.Fatalf("got %v want log 4", got)
	}
}
