package optim

import (
	"testing"

	ag "ebyd/autograd"
)

// TestStateContinues: an optimizer rebuilt from State after two steps takes
// the same third and fourth steps as the one that went on.
func TestStateContinues(t *testing.T) {
	for _, c := range []Config{{Name: "sgd", LR: 0.1, Momentum: 0.9, WeightDecay: 0.01}, {Name: "adam", LR: 0.01, WeightDecay: 0.01}} {
		a, b := param(1, -2, 3), param(1, -2, 3)
		skipped := param(5) // never has a gradient: no state
		oa, _ := New([]*ag.Var{a, skipped}, c)
		grads := [][]float32{{1, 2, 3}, {-1, 0.5, 2}, {0.3, -0.2, 1}, {2, 2, -1}}
		for _, g := range grads[:2] {
			setGrad(a, g...)
			oa.Step()
		}
		copy(b.Value.Data, a.Value.Data)
		st := oa.(Stateful).State()
		if st[1] != nil {
			t.Fatalf("%s: a parameter without gradients has a state", c.Name)
		}
		ob, _ := New([]*ag.Var{b, param(5)}, c)
		if err := ob.(Stateful).SetState(st); err != nil {
			t.Fatal(err)
		}
		for _, g := range grads[2:] {
			setGrad(a, g...)
			setGrad(b, g...)
			oa.Step()
			ob.Step()
		}
		for i := range a.Value.Data {
			if a.Value.Data[i] != b.Value.Data[i] {
				t.Fatalf("%s: weight %d is %v after resuming, %v without", c.Name, i, b.Value.Data[i], a.Value.Data[i])
			}
		}
		if err := ob.(Stateful).SetState(st[:1]); err == nil {
			t.Errorf("%s: a state of one parameter for two was accepted", c.Name)
		}
	}
}
