package autograd

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"ebyd/tensor"
)

// Shared helpers for the element-wise, shape and reduction op tests.

// ckGrad runs CheckGrad with the package's usual eps and tolerance.
func ckGrad(t *testing.T, f func() *Var, inputs ...*Var) {
	t.Helper()
	if err := CheckGrad(f, inputs, 1e-3, 1e-2); err != nil {
		t.Fatal(err)
	}
}

// ckValues checks v's shape and values to within tol (absolute, and relative
// for large values).
func ckValues(t *testing.T, v *Var, shape []int, want []float32, tol float64) {
	t.Helper()
	if !tensor.SameShape(v.Value.Shape, shape) {
		t.Fatalf("shape %v, want %v", v.Value.Shape, shape)
	}
	if len(v.Value.Data) != len(want) {
		t.Fatalf("%d values, want %d", len(v.Value.Data), len(want))
	}
	for i, w := range want {
		g := v.Value.Data[i]
		if math.IsNaN(float64(w)) != math.IsNaN(float64(g)) ||
			math.Abs(float64(g)-float64(w)) > tol*math.Max(1, math.Abs(float64(w))) {
			t.Fatalf("element %d: got %v, want %v (all: %v)", i, g, w, v.Value.Data)
		}
	}
}

// ckPanics checks that fn panics with a message starting with prefix.
func ckPanics(t *testing.T, prefix string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want %q", prefix)
		}
		if msg := fmt.Sprint(r); !strings.HasPrefix(msg, prefix) {
			t.Fatalf("panic %q, want prefix %q", msg, prefix)
		}
	}()
	fn()
}

// vec is a constant from values and a shape.
func constOf(data []float32, shape ...int) *Var { return Const(tensor.FromData(data, shape...)) }

// param is a Var requiring a gradient from values and a shape.
func param(data []float32, shape ...int) *Var { return Param(tensor.FromData(data, shape...)) }

// positive returns a Var with values uniform in [lo, lo+2), for ops that need
// inputs away from 0 (Div, Log, Sqrt).
func positive(seed uint64, lo float32, shape ...int) *Var {
	v := RandVar(seed, true, shape...)
	for i := range v.Value.Data {
		v.Value.Data[i] += 1 + lo
	}
	return v
}

// bcastPairs are operand shapes that exercise broadcasting: same shape,
// per-channel masks against NCHW, scalars either side, stretching on both
// sides, and leading dims missing on one side.
var bcastPairs = [][2][]int{
	{{2, 3}, {2, 3}},
	{{2, 3, 2, 2}, {3, 1, 1}},
	{{1, 3, 1, 1}, {2, 3, 2, 2}},
	{{2, 3}, {}},
	{{}, {2, 3}},
	{{1}, {2, 3}},
	{{2, 1, 3}, {4, 1}},
	{{3}, {2, 3}},
	{{2, 1}, {1, 3}},
	{{2, 3, 1, 2}, {1, 3, 2, 1}},
	{{}, {}},
}
