package autograd

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"ebyd/tensor"
)

func TestUpsampleBilinear2dGrad(t *testing.T) {
	for _, c := range []struct {
		shape []int
		scale int
	}{
		{[]int{2, 3, 5, 4}, 2},
		{[]int{1, 2, 7, 7}, 2}, // the 7 → 14 step of an MNIST generator
		{[]int{1, 1, 1, 2}, 2},
		{[]int{2, 1, 3, 4}, 3},
		{[]int{1, 2, 3, 3}, 1},
	} {
		x := RandVar(3, true, c.shape...)
		if err := CheckGrad(func() *Var { return UpsampleBilinear2d(x, c.scale) }, []*Var{x}, 1e-2, 1e-2); err != nil {
			t.Fatalf("%v ×%d: %v", c.shape, c.scale, err)
		}
	}
}

func TestUpsampleBilinear2dValues(t *testing.T) {
	// One row [a, b]: outputs sample at -0.25 (clamped to 0), 0.25, 0.75 and
	// 1.25 (clamped to the last pixel).
	y := UpsampleBilinear2d(constOf([]float32{4, 8}, 1, 1, 1, 2), 2)
	ckValues(t, y, []int{1, 1, 2, 4}, []float32{4, 5, 7, 8, 4, 5, 7, 8}, 0)
	// Scale 1 is the identity.
	x := RandVar(9, false, 2, 2, 3, 5)
	ckValues(t, UpsampleBilinear2d(x, 1), x.Shape(), x.Value.Data, 0)
	ckPanics(t, "autograd: UpsampleBilinear2d: input", func() { UpsampleBilinear2d(constOf([]float32{1}, 1), 2) })
	ckPanics(t, "autograd: UpsampleBilinear2d: scale 0", func() { UpsampleBilinear2d(x, 0) })
}

// TestUpsampleBilinear2dTorch compares values and input gradients with
// torch.nn.Upsample(scale_factor=s, mode='bilinear'), written by
// tools/fixtures/upsample.py.
func TestUpsampleBilinear2dTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/upsample.json")
	if err != nil {
		t.Fatal(err)
	}
	var fix struct {
		Cases []struct {
			Shape       []int
			Scale       int
			X, W, Y, DX []float32
		}
	}
	if err := json.Unmarshal(b, &fix); err != nil {
		t.Fatal(err)
	}
	if len(fix.Cases) == 0 {
		t.Fatal("no cases in the fixture")
	}
	for _, c := range fix.Cases {
		x := NewVar(tensor.FromData(c.X, c.Shape...), true)
		y := UpsampleBilinear2d(x, c.Scale)
		want := []int{c.Shape[0], c.Shape[1], c.Shape[2] * c.Scale, c.Shape[3] * c.Scale}
		ckValues(t, y, want, c.Y, 1e-6)
		BackwardWith(y, tensor.FromData(c.W, want...))
		for i, g := range x.Grad.Data {
			if math.Abs(float64(g-c.DX[i])) > 1e-5 {
				t.Fatalf("%v ×%d: gradient element %d: %v, PyTorch %v", c.Shape, c.Scale, i, g, c.DX[i])
			}
		}
	}
}
