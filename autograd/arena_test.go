package autograd_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"

	ag "ebyd/autograd"
	"ebyd/internal/dnnl"
	"ebyd/nn"
	"ebyd/optim"
	"ebyd/tensor"
)

// flatten is torch.nn.Flatten as a module.
type flatten struct{ nn.Base }

func (f *flatten) Forward(x *ag.Var) *ag.Var { return f.Out(ag.Flatten(x)) }

// arenaNet is conv 3→8 k3 p1 → BN → ReLU → max-pool 2 → dropout 0.25 →
// flatten → linear 512→8 over [8, 3, 16, 16] inputs: every activation and
// activation gradient is at least the arena's smallest recycled size (4096
// floats), and the linear layer's weight gradient has exactly the size of the
// pooled activation, so a weight gradient left in the arena would be handed
// out again by the next step.
func arenaNet(seed uint64) *nn.Sequential {
	r := rand.New(rand.NewPCG(seed, 1))
	return nn.Build(nn.NewSequential(
		nn.NewConv2d(3, 8, 3, ag.ConvOpts{Padding: 1}, true, r),
		nn.NewBatchNorm2d(8),
		&nn.ReLU{},
		&nn.MaxPool2d{Kernel: 2, Stride: 2},
		&nn.Dropout{P: 0.25, Rng: rand.New(rand.NewPCG(seed, 2))},
		&flatten{},
		nn.NewLinear(8*8*8, 8, true, r),
	))
}

func arenaBatch(step int) (*ag.Var, []int) {
	x := ag.RandVar(uint64(100+step), false, 8, 3, 16, 16)
	r := rand.New(rand.NewPCG(uint64(step), 3))
	y := make([]int, 8)
	for i := range y {
		y[i] = r.IntN(8)
	}
	return x, y
}

type trainResult struct {
	losses []float32
	state  map[string][]float32 // every parameter and buffer after the last step
	grads  map[string][]float32 // the gradients of the last step
	model  *nn.Sequential
}

// train runs steps SGD steps of arenaNet, each inside arena.Step when arena
// is not nil, as run.Train does.
func train(arena *ag.Arena, steps int) trainResult {
	m := arenaNet(1)
	var ps []*ag.Var
	for _, p := range nn.Params(m) {
		ps = append(ps, p.Var)
	}
	opt := &optim.SGD{Params: ps, Rate: 0.01, Momentum: 0.9, WeightDecay: 5e-4}
	res := trainResult{model: m}
	for s := range steps {
		x, y := arenaBatch(s)
		optim.ZeroGrad(ps)
		step := func() {
			loss := ag.CrossEntropy(m.Forward(x), y)
			res.losses = append(res.losses, loss.Item())
			ag.Backward(loss)
			opt.Step()
		}
		if arena != nil {
			arena.Step(step)
		} else {
			step()
		}
	}
	res.state, res.grads = map[string][]float32{}, map[string][]float32{}
	for _, e := range nn.StateDict(m) {
		res.state[e.Name] = slices.Clone(e.Tensor.Data)
	}
	for _, p := range nn.Params(m) {
		res.grads[p.Name] = slices.Clone(p.Grad.Data)
	}
	return res
}

// bitwiseDiff names the first entry of a that differs from b in any bit.
func bitwiseDiff(a, b map[string][]float32) string {
	for k, av := range a {
		bv := b[k]
		if len(av) != len(bv) {
			return fmt.Sprintf("%s: %d vs %d values", k, len(av), len(bv))
		}
		for i := range av {
			if math.Float32bits(av[i]) != math.Float32bits(bv[i]) {
				return fmt.Sprintf("%s[%d]: %v vs %v", k, i, av[i], bv[i])
			}
		}
	}
	return ""
}

// forConvRoutes runs fn with the im2col route and, when built in, oneDNN.
func forConvRoutes(t *testing.T, fn func(t *testing.T)) {
	defer func(old bool) { ag.UseDNNL = old }(ag.UseDNNL)
	for _, on := range []bool{false, true} {
		if on && !dnnl.Available {
			continue
		}
		ag.UseDNNL = on
		t.Run(fmt.Sprintf("dnnl=%v", on), fn)
	}
}

// TestArenaTrainingIsBitwiseIdentical trains the same network from the same
// weights on the same data with and without an arena: losses, weights,
// running statistics and the gradients read after the last Step returned
// must agree bit for bit.
func TestArenaTrainingIsBitwiseIdentical(t *testing.T) {
	forConvRoutes(t, func(t *testing.T) {
		const steps = 3
		plain := train(nil, steps)
		arena := ag.NewArena()
		got := train(arena, steps)
		for i := range plain.losses {
			if math.Float32bits(plain.losses[i]) != math.Float32bits(got.losses[i]) {
				t.Fatalf("step %d: loss %v with the arena, %v without", i, got.losses[i], plain.losses[i])
			}
		}
		if plain.losses[0] == plain.losses[steps-1] {
			t.Fatal("the losses did not move: the test trains nothing")
		}
		if d := bitwiseDiff(plain.state, got.state); d != "" {
			t.Fatalf("state after training differs: %s", d)
		}
		if d := bitwiseDiff(plain.grads, got.grads); d != "" {
			t.Fatalf("gradients read after Step differ: %s", d)
		}
	})
}

// TestArenaGradientsSurviveStep reads the gradients of the parameters and
// of an input being optimised (as trigger inversion does) after Step
// returns, and after a second step has taken back every recycled buffer of
// their sizes and overwritten it, without copying them first.
func TestArenaGradientsSurviveStep(t *testing.T) {
	forConvRoutes(t, func(t *testing.T) {
		grads := func(arena *ag.Arena) (*nn.Sequential, map[string]*tensor.Tensor) {
			m := arenaNet(1)
			x, y := arenaBatch(0)
			x.SetRequiresGrad(true)
			step := func() { ag.Backward(ag.CrossEntropy(m.Forward(x), y)) }
			if arena != nil {
				arena.Step(step)
			} else {
				step()
			}
			held := map[string]*tensor.Tensor{"input": x.Grad}
			for _, p := range nn.Params(m) {
				held[p.Name] = p.Grad
			}
			return m, held
		}
		_, ref := grads(nil)
		arena := ag.NewArena()
		m, held := grads(arena)
		// A second step: the same network on another input, with the
		// parameters frozen so that nothing accumulates into the held
		// tensors, then fresh outputs of every held gradient's size.
		for _, p := range nn.Params(m) {
			p.SetRequiresGrad(false)
		}
		xin := ag.RandVar(77, true, 8, 3, 16, 16)
		arena.Step(func() {
			ag.Backward(ag.Sum(m.Forward(xin)))
			for _, g := range held {
				for range 3 {
					ag.ReLU(ag.RandVar(78, false, g.Len()))
				}
			}
		})
		want, got := map[string][]float32{}, map[string][]float32{}
		for name, g := range held {
			got[name] = g.Data
			want[name] = ref[name].Data
		}
		if d := bitwiseDiff(want, got); d != "" {
			t.Fatalf("a gradient held across steps changed: %s", d)
		}
	})
}

func TestArenaNestedStepPanics(t *testing.T) {
	a, b := ag.NewArena(), ag.NewArena()
	for _, inner := range []*ag.Arena{a, b} {
		func() {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), "inside another Step") {
					t.Fatalf("nested Step: recovered %v", r)
				}
			}()
			a.Step(func() { inner.Step(func() {}) })
		}()
	}
	// The panic left no step active: a new one runs.
	ran := false
	b.Step(func() { ran = true })
	a.Step(func() {})
	if !ran {
		t.Fatal("Step did not run its function")
	}
}

// largeOutputs records the data pointer of every module output of at least
// min floats (Flatten shares its input's data, so pointers repeat: the set
// counts arrays).
func largeOutputs(m nn.Module, min int, into map[*float32]bool, keep *[]*ag.Var) {
	for _, path := range nn.ModulePaths(m) {
		err := nn.SetHook(m, path, func(y *ag.Var) *ag.Var {
			if len(y.Value.Data) >= min {
				into[unsafe.SliceData(y.Value.Data)] = true
				*keep = append(*keep, y)
			}
			return y
		})
		if err != nil {
			panic(err)
		}
	}
}

// TestArenaReusesBuffersAcrossSteps runs the same forward twice: inside an
// arena the second step's outputs are exactly the first step's arrays, and
// without one they are all new (the first step's are kept alive).
func TestArenaReusesBuffersAcrossSteps(t *testing.T) {
	forConvRoutes(t, func(t *testing.T) {
		m := arenaNet(1)
		x, _ := arenaBatch(0)
		var keep []*ag.Var
		run := func(arena *ag.Arena) map[*float32]bool {
			seen := map[*float32]bool{}
			largeOutputs(m, 1<<12, seen, &keep)
			f := func() { ag.NoGrad(func() { m.Forward(x) }) }
			if arena != nil {
				arena.Step(f)
			} else {
				f()
			}
			nn.ClearHooks(m)
			return seen
		}
		arena := ag.NewArena()
		first, second := run(arena), run(arena)
		// conv, BN, ReLU, pool and dropout outputs (flatten shares the dropout's).
		if len(first) != 5 {
			t.Fatalf("first step: %d distinct large output arrays, want 5", len(first))
		}
		for p := range second {
			if !first[p] {
				t.Fatalf("second step allocated a new array instead of reusing the first step's (%d vs %d arrays)", len(second), len(first))
			}
		}
		if len(second) != len(first) {
			t.Fatalf("second step: %d arrays, first %d", len(second), len(first))
		}
		a, b := run(nil), run(nil)
		for p := range b {
			if a[p] || first[p] {
				t.Fatal("without an arena a live array was handed out again")
			}
		}
		runtime.KeepAlive(keep)
	})
}

// TestArenaReusesReleasedBufferWithinStep: the intermediate gradients that
// Backward releases are handed out again, within the same step, to the next
// allocations of their size, and never while still in use.
func TestArenaReusesReleasedBufferWithinStep(t *testing.T) {
	const n = 1 << 14 // 64 KiB per buffer
	var ms runtime.MemStats
	allocated := func(fn func()) uint64 {
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		fn()
		runtime.ReadMemStats(&ms)
		return ms.TotalAlloc - before
	}
	c := ag.RandVar(5, false, n)
	for _, backward := range []bool{true, false} {
		arena := ag.NewArena()
		var bytes uint64
		live := map[*float32]bool{}
		arena.Step(func() {
			x := ag.RandVar(4, true, n)
			h := ag.ReLU(x)
			y := ag.ReLU(h)
			live[unsafe.SliceData(h.Value.Data)] = true
			live[unsafe.SliceData(y.Value.Data)] = true
			if backward {
				ag.Backward(ag.Sum(y))
				live[unsafe.SliceData(x.Grad.Data)] = true
			}
			var z1, z2 *ag.Var
			bytes = allocated(func() {
				z1 = ag.ReLU(c)
				z2 = ag.ReLU(c)
			})
			p1, p2 := unsafe.SliceData(z1.Value.Data), unsafe.SliceData(z2.Value.Data)
			if p1 == p2 || live[p1] || live[p2] {
				t.Fatal("the arena handed out a buffer that is still in use")
			}
			runtime.KeepAlive(h)
		})
		if backward && bytes >= 4*n/4 {
			t.Fatalf("after Backward released the intermediate gradients, two outputs of their size allocated %d bytes (a buffer is %d)", bytes, 4*n)
		}
		if !backward && bytes < 2*4*n {
			t.Fatalf("with nothing released, two outputs allocated only %d bytes: the measurement is broken", bytes)
		}
	}
}
