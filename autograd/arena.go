package autograd

import (
	"sync"
	"sync/atomic"

	"ebyd/tensor"
)

// Arena recycles the buffers of training steps. A step allocates the same
// activations and gradients, of the same sizes, as the step before; handing
// the previous step's buffers back out spares the garbage collector hundreds
// of megabytes a step and the kernel the page faults of fresh memory.
//
// Inside Step, large op outputs and gradients come from the arena;
// intermediate gradients return to it as soon as Backward has propagated
// them, and everything else when Step returns. So nothing computed inside
// Step may be used after it returns except scalars read out (loss.Item(),
// predicted labels) and the parameters and their gradients, which never live
// in the arena. Steps must not run concurrently, nor other graphs while a
// Step runs.
type Arena struct {
	mu   sync.Mutex
	free map[int][][]float32
	used map[*float32][]float32
}

// NewArena returns an empty arena.
func NewArena() *Arena {
	return &Arena{free: map[int][][]float32{}, used: map[*float32][]float32{}}
}

var active atomic.Pointer[Arena]

// Step runs fn with the arena active, then takes back every buffer fn's
// operations allocated from it.
func (a *Arena) Step(fn func()) {
	if !active.CompareAndSwap(nil, a) {
		panic("autograd: Arena.Step inside another Step")
	}
	defer func() {
		active.Store(nil)
		a.mu.Lock()
		for k, b := range a.used {
			a.free[len(b)] = append(a.free[len(b)], b)
			delete(a.used, k)
		}
		a.mu.Unlock()
	}()
	fn()
}

// arenaMin is the smallest buffer worth recycling (16 KiB).
const arenaMin = 1 << 12

// alloc returns a buffer of n floats, zeroed when zero is set; otherwise its
// contents are arbitrary and the caller must write every element.
func alloc(n int, zero bool) []float32 {
	a := active.Load()
	if a == nil || n < arenaMin {
		return make([]float32, n)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var b []float32
	if l := a.free[n]; len(l) > 0 {
		b = l[len(l)-1]
		a.free[n] = l[:len(l)-1]
		if zero {
			clear(b)
		}
	} else {
		b = make([]float32, n)
	}
	a.used[&b[0]] = b
	return b
}

// release gives an arena buffer back before the step ends.
func release(b []float32) {
	a := active.Load()
	if a == nil || len(b) < arenaMin {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.used[&b[0]]; ok {
		delete(a.used, &b[0])
		a.free[len(b)] = append(a.free[len(b)], b)
	}
}

// zeros is a zeroed buffer for a gradient or an output that is accumulated.
func zeros(n int) []float32 { return alloc(n, true) }

// scratch is a buffer whose every element the caller will write.
func scratch(n int) []float32 { return alloc(n, false) }

// newOut is a zeroed output tensor.
func newOut(shape ...int) *tensor.Tensor {
	return tensor.FromData(zeros(tensor.Numel(shape)), shape...)
}

// newFull is an output tensor whose every element the caller will write.
func newFull(shape ...int) *tensor.Tensor {
	return tensor.FromData(scratch(tensor.Numel(shape)), shape...)
}
