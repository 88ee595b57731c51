package autograd

import (
	"fmt"
	"sync/atomic"

	"ebyd/internal/vec"
	"ebyd/tensor"
)

// Var is a value in a differentiable computation.
type Var struct {
	Value *tensor.Tensor
	// Grad is the gradient of the last Backward's output with respect to
	// Value; nil until a gradient arrives. It accumulates across Backward
	// calls until ZeroGrad, as in PyTorch.
	Grad *tensor.Tensor

	requiresGrad bool
	leaf         bool
	spare        []float32 // a leaf's previous gradient buffer, kept by ZeroGrad
	parents      []*Var
	backward     func() // sends v.Grad to the parents; nil for leaves
}

// NewVar wraps t in a leaf Var; requiresGrad marks it as something whose
// gradient is wanted (a parameter, or an input being optimised).
func NewVar(t *tensor.Tensor, requiresGrad bool) *Var {
	return &Var{Value: t, requiresGrad: requiresGrad, leaf: true}
}

// Const wraps t in a leaf Var that needs no gradient.
func Const(t *tensor.Tensor) *Var { return NewVar(t, false) }

// Param wraps t in a leaf Var that requires a gradient.
func Param(t *tensor.Tensor) *Var { return NewVar(t, true) }

// RequiresGrad reports whether gradients flow to v.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad switches gradient tracking of a leaf on or off (freezing a
// parameter, or marking an input for trigger inversion).
func (v *Var) SetRequiresGrad(on bool) {
	if !v.leaf {
		panic("autograd: SetRequiresGrad on a non-leaf Var")
	}
	v.requiresGrad = on
}

// Shape is the shape of v's value.
func (v *Var) Shape() []int { return v.Value.Shape }

// Detach returns a leaf constant sharing v's value.
func (v *Var) Detach() *Var { return Const(v.Value) }

// ZeroGrad drops the accumulated gradient. A leaf keeps the buffer to hold its
// next gradient, so the tensor ZeroGrad drops must not be used afterwards.
func (v *Var) ZeroGrad() {
	if v.leaf && v.Grad != nil {
		v.spare = v.Grad.Data
	}
	v.Grad = nil
}

// Item returns the value of a one-element Var.
func (v *Var) Item() float32 {
	if len(v.Value.Data) != 1 {
		panic(fmt.Sprintf("autograd: Item of a Var of shape %v", v.Value.Shape))
	}
	return v.Value.Data[0]
}

// gradBuf returns v's gradient tensor, allocating a zero one if needed, for a
// backward function to add into.
func (v *Var) gradBuf() *tensor.Tensor {
	if v.Grad == nil {
		if v.leaf {
			// Outlives any arena step: on the heap, reusing last step's buffer.
			if len(v.spare) == len(v.Value.Data) {
				clear(v.spare)
				v.Grad = tensor.FromData(v.spare, v.Value.Shape...)
				v.spare = nil
			} else {
				v.Grad = tensor.New(v.Value.Shape...)
			}
		} else {
			v.Grad = newOut(v.Value.Shape...)
		}
	}
	return v.Grad
}

// take hands v's gradient buffer to the caller, who becomes its owner: an
// operation's backward may pass it on to one parent instead of a copy.
// Backward then has nothing left of v to release.
func (v *Var) take() []float32 {
	g := v.Grad.Data
	v.Grad = nil
	return g
}

// accumulate adds g into v's gradient; when v has none yet it takes g without
// copying, so g must not be reused by the caller.
func (v *Var) accumulate(g []float32) {
	if v.Grad == nil && v.leaf && active.Load() != nil {
		// A leaf's gradient outlives the arena step: keep it on the heap,
		// in last step's buffer when there is one.
		b := v.spare
		if len(b) != len(g) {
			b = make([]float32, len(g))
		}
		v.spare = nil
		copy(b, g)
		v.Grad = tensor.FromData(b, v.Value.Shape...)
		release(g)
		return
	}
	if v.Grad == nil {
		v.Grad = tensor.FromData(g, v.Value.Shape...)
		return
	}
	addTo(v.Grad.Data, g)
	release(g)
}

func addTo(dst, src []float32) {
	dst = dst[:len(src)]
	tensor.ParallelElems(len(src), func(lo, hi int) { vec.Add(dst[lo:hi], dst[lo:hi], src[lo:hi]) })
}

var noGrad atomic.Int32

// NoGrad runs fn without recording any graph, for evaluation. It is global to
// the process: do not train in another goroutine while it runs.
func NoGrad(fn func()) {
	noGrad.Add(1)
	defer noGrad.Add(-1)
	fn()
}

// GradEnabled reports whether operations currently record a graph.
func GradEnabled() bool { return noGrad.Load() == 0 }

// result makes the output Var of an operation. When no parent requires a
// gradient (or recording is off) the result is a constant and backward is
// dropped, so inference builds no graph.
func result(value *tensor.Tensor, backward func(out *Var), parents ...*Var) *Var {
	out := &Var{Value: value}
	if !GradEnabled() {
		out.leaf = true
		return out
	}
	for _, p := range parents {
		if p != nil && p.requiresGrad {
			out.requiresGrad = true
			break
		}
	}
	if !out.requiresGrad {
		out.leaf = true
		return out
	}
	out.parents = parents
	out.backward = func() { backward(out) }
	return out
}

// Backward computes the gradient of the scalar loss with respect to every Var
// it depends on that requires a gradient, adding into their Grad. The graph
// and the gradients of intermediate Vars are released afterwards.
func Backward(loss *Var) {
	if len(loss.Value.Data) != 1 {
		panic(fmt.Sprintf("autograd: Backward needs a scalar, got shape %v", loss.Value.Shape))
	}
	if !loss.requiresGrad {
		panic("autograd: Backward on a Var that does not depend on any parameter")
	}
	BackwardWith(loss, tensor.Full(1, loss.Value.Shape...))
}

// BackwardWith runs backward from out with the given output gradient (a
// vector-Jacobian product), for non-scalar outputs.
func BackwardWith(out *Var, grad *tensor.Tensor) {
	if !tensor.SameShape(out.Value.Shape, grad.Shape) {
		panic(fmt.Sprintf("autograd: gradient of shape %v for output of shape %v", grad.Shape, out.Value.Shape))
	}
	if !out.requiresGrad {
		return
	}
	order := topo(out)
	if out.Grad == nil {
		out.Grad = grad.Clone()
	} else {
		addTo(out.Grad.Data, grad.Data)
	}
	for i := len(order) - 1; i >= 0; i-- {
		v := order[i]
		if v.leaf {
			continue
		}
		if v.Grad != nil {
			if v.backward == nil {
				panic("autograd: Backward through a graph already released by an earlier Backward: recompute the forward pass")
			}
			v.backward()
		}
		// Release the graph and the intermediate gradient as we go: they are
		// the bulk of training memory. Operations hand their parents fresh
		// buffers, so nothing else refers to this gradient and an arena may
		// reuse it at once.
		if v.Grad != nil && v != out {
			release(v.Grad.Data)
		}
		v.Grad = nil
		v.backward = nil
		v.parents = nil
	}
}

// topo returns the Vars reachable from out that require a gradient, parents
// before children, by an iterative depth-first search (deep networks would
// otherwise recurse deeply).
func topo(out *Var) []*Var {
	type frame struct {
		v    *Var
		next int
	}
	var order []*Var
	seen := map[*Var]bool{out: true}
	stack := []frame{{v: out}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next < len(f.v.parents) {
			p := f.v.parents[f.next]
			f.next++
			if p != nil && p.requiresGrad && !seen[p] {
				seen[p] = true
				stack = append(stack, frame{v: p})
			}
			continue
		}
		order = append(order, f.v)
		stack = stack[:len(stack)-1]
	}
	return order
}

// copyOf returns a copy of g in a fresh (arena) buffer.
func copyOf(g []float32) []float32 {
	b := scratch(len(g))
	copy(b, g)
	return b
}
