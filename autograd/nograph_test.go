package autograd

import (
	"math/rand/v2"
	"testing"
)

// TestOpsOnConstantsBuildNoGraph runs every op of this group on constants (and
// under NoGrad on parameters) and checks that no graph is recorded.
func TestOpsOnConstantsBuildNoGraph(t *testing.T) {
	ops := map[string]func(a, b, pos *Var) *Var{
		"Add":        func(a, b, _ *Var) *Var { return Add(a, b) },
		"Sub":        func(a, b, _ *Var) *Var { return Sub(a, b) },
		"Mul":        func(a, b, _ *Var) *Var { return Mul(a, b) },
		"Div":        func(a, _, p *Var) *Var { return Div(a, p) },
		"Scale":      func(a, _, _ *Var) *Var { return Scale(a, 2) },
		"AddScalar":  func(a, _, _ *Var) *Var { return AddScalar(a, 2) },
		"Neg":        func(a, _, _ *Var) *Var { return Neg(a) },
		"Reshape":    func(a, _, _ *Var) *Var { return Reshape(a, -1) },
		"Flatten":    func(a, _, _ *Var) *Var { return Flatten(a) },
		"Concat":     func(a, b, _ *Var) *Var { return Concat(0, a, b) },
		"Narrow":     func(a, _, _ *Var) *Var { return Narrow(a, 1, 1, 1) },
		"Tanh":       func(a, _, _ *Var) *Var { return Tanh(a) },
		"Sigmoid":    func(a, _, _ *Var) *Var { return Sigmoid(a) },
		"Exp":        func(a, _, _ *Var) *Var { return Exp(a) },
		"Log":        func(_, _, p *Var) *Var { return Log(p) },
		"Abs":        func(a, _, _ *Var) *Var { return Abs(a) },
		"Square":     func(a, _, _ *Var) *Var { return Square(a) },
		"Sqrt":       func(_, _, p *Var) *Var { return Sqrt(p) },
		"Clamp":      func(a, _, _ *Var) *Var { return Clamp(a, -0.5, 0.5) },
		"Sum":        func(a, _, _ *Var) *Var { return Sum(a) },
		"Mean":       func(a, _, _ *Var) *Var { return Mean(a) },
		"SumDims":    func(a, _, _ *Var) *Var { return SumDims(a, []int{0}, false) },
		"MeanDims":   func(a, _, _ *Var) *Var { return MeanDims(a, []int{1}, true) },
		"Softmax":    func(a, _, _ *Var) *Var { return Softmax(a) },
		"LogSoftmax": func(a, _, _ *Var) *Var { return LogSoftmax(a) },
		"KLDiv":      func(a, _, p *Var) *Var { return KLDiv(a, p) },
		"MSE":        func(a, b, _ *Var) *Var { return MSE(a, b) },
		"Dropout":    func(a, _, _ *Var) *Var { return Dropout(a, 0.5, rand.New(rand.NewPCG(1, 1))) },
	}
	for name, op := range ops {
		check := func(how string, y *Var) {
			if y.RequiresGrad() || y.backward != nil || y.parents != nil {
				t.Errorf("%s %s recorded a graph", name, how)
			}
		}
		check("on constants", op(RandVar(1, false, 2, 3), RandVar(2, false, 2, 3), positive(3, 0, 2, 3).Detach()))
		a, b, p := RandVar(1, true, 2, 3), RandVar(2, true, 2, 3), positive(3, 0, 2, 3)
		NoGrad(func() { check("under NoGrad", op(a, b, p)) })
		if y := op(a, b, p); !y.RequiresGrad() {
			t.Errorf("%s on parameters recorded no graph", name)
		}
	}
}
