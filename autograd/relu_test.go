package autograd

import "testing"

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
