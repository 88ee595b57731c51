package autograd

import (
	"fmt"
	"math"
	"math/rand/v2"

	"ebyd/tensor"
)

// CheckGrad compares the analytic gradients of f with central finite
// differences, for every input that requires a gradient. f must be
// deterministic. The scalar differentiated is Σ f(inputs)·w for a fixed random
// w, so every output element is exercised. It returns an error naming the
// first input and element whose gradients differ by more than tol relative to
// max(0.1, |numeric|), or whose numeric gradient is not finite.
func CheckGrad(f func() *Var, inputs []*Var, eps, tol float64) error {
	out := f()
	r := rand.New(rand.NewPCG(7, 11))
	w := tensor.New(out.Value.Shape...)
	for i := range w.Data {
		w.Data[i] = r.Float32()*2 - 1
	}
	scalar := func(o *Var) float64 {
		var s float64
		for i, v := range o.Value.Data {
			s += float64(v) * float64(w.Data[i])
		}
		return s
	}
	for _, in := range inputs {
		in.ZeroGrad()
	}
	BackwardWith(out, w)
	for k, in := range inputs {
		if !in.requiresGrad {
			continue
		}
		if in.Grad == nil {
			return fmt.Errorf("input %d: no gradient arrived", k)
		}
		analytic := in.Grad.Clone()
		for i := range in.Value.Data {
			orig := in.Value.Data[i]
			hi, lo := orig+float32(eps), orig-float32(eps)
			var plus, minus float64
			in.Value.Data[i] = hi
			NoGrad(func() { plus = scalar(f()) })
			in.Value.Data[i] = lo
			NoGrad(func() { minus = scalar(f()) })
			in.Value.Data[i] = orig
			// Divide by the step float32 really took, not the nominal one.
			num := (plus - minus) / (float64(hi) - float64(lo))
			got := float64(analytic.Data[i])
			if math.IsNaN(num) || math.IsInf(num, 0) {
				return fmt.Errorf("input %d (shape %v) element %d: numeric gradient %v: choose inputs where f is smooth", k, in.Value.Shape, i, num)
			}
			if math.Abs(got-num) > tol*math.Max(0.1, math.Abs(num)) || math.IsNaN(got) {
				return fmt.Errorf("input %d (shape %v) element %d: analytic %.6g, numeric %.6g", k, in.Value.Shape, i, got, num)
			}
		}
	}
	return nil
}

// RandVar returns a Var of the given shape with values uniform in [-1, 1),
// drawn from a seeded generator (for tests and examples).
func RandVar(seed uint64, requiresGrad bool, shape ...int) *Var {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = r.Float32()*2 - 1
	}
	return NewVar(t, requiresGrad)
}
