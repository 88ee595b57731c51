package autograd

import "testing"

func TestLinearGrad(t *testing.T) {
	x := RandVar(1, true, 5, 7)
	w := RandVar(2, true, 3, 7)
	b := RandVar(3, true, 3)
	if err := CheckGrad(func() *Var { return Linear(x, w, b) }, []*Var{x, w, b}, 1e-2, 1e-2); err != nil {
		t.Fatal(err)
	}
	if err := CheckGrad(func() *Var { return Linear(x, w, nil) }, []*Var{x, w}, 1e-2, 1e-2); err != nil {
		t.Fatal(err)
	}
}

func TestLinearValues(t *testing.T) {
	x := Const(tensorOf([]float32{1, 2}, 1, 2))
	w := Const(tensorOf([]float32{1, 0, 3, -1}, 2, 2))
	b := Const(tensorOf([]float32{0.5, 1}, 2))
	y := Linear(x, w, b).Value.Data
	if y[0] != 1.5 || y[1] != 2 {
		t.Fatalf("got %v", y)
	}
}
