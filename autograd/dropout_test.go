package autograd

import (
	"math/rand/v2"
	"testing"
)

func TestDropoutGrad(t *testing.T) {
	x := RandVar(1, true, 4, 5)
	// The same seed on every evaluation gives the same mask.
	ckGrad(t, func() *Var { return Dropout(x, 0.3, rand.New(rand.NewPCG(1, 2))) }, x)
}

func TestDropoutValues(t *testing.T) {
	const n = 2000
	data := make([]float32, n)
	for i := range data {
		data[i] = 1
	}
	x := param(data, n)
	y := Dropout(x, 0.25, rand.New(rand.NewPCG(5, 6)))
	kept := 0
	for _, v := range y.Value.Data {
		switch v {
		case 0:
		case 1 / 0.75:
			kept++
		default:
			t.Fatalf("dropout value %v, want 0 or 4/3", v)
		}
	}
	if kept < 1400 || kept > 1600 { // 1500 expected, σ ≈ 19
		t.Fatalf("kept %d of %d at p = 0.25", kept, n)
	}
	// The mask is the rng's sequence: element i is kept iff draw i ≥ p.
	r := rand.New(rand.NewPCG(5, 6))
	for i, v := range y.Value.Data {
		if (r.Float32() >= 0.25) != (v != 0) {
			t.Fatalf("element %d does not follow the rng sequence", i)
		}
	}
	Backward(Sum(y))
	for i, g := range x.Grad.Data {
		if g != y.Value.Data[i] { // ones in, so the gradient equals the output
			t.Fatalf("gradient %d: %v, output %v", i, g, y.Value.Data[i])
		}
	}
	// Same seed, same mask; p = 0 is the identity; p = 1 zeros everything.
	y2 := Dropout(x, 0.25, rand.New(rand.NewPCG(5, 6)))
	ckValues(t, y2, []int{n}, y.Value.Data, 0)
	if Dropout(x, 0, nil) != x {
		t.Fatal("p = 0 did not return x itself")
	}
	ckValues(t, Dropout(constOf([]float32{1, 2}, 2), 1, nil), []int{2}, []float32{0, 0}, 0)
	ckPanics(t, "autograd: Dropout: p = 1.5 not in [0, 1]", func() { Dropout(x, 1.5, nil) })
	ckPanics(t, "autograd: Dropout: nil rng", func() { Dropout(x, 0.5, nil) })
}
