package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	ag "ebyd/autograd"
	"ebyd/nn"
	"ebyd/tensor"
)

// tinyNet is a small tree in the shape of a PyTorch model:
//
//	features: Sequential(0: Conv2d 2→3 k3 p1, 1: BatchNorm2d(3), 2: Sequential(0: ReLU, 1: Identity))
//	drop: Dropout(0.5)
//	fc: Linear(48 → 5)
//
// plus a root parameter "scale" and buffer "offset" registered after the
// children (PyTorch still lists a module's own tensors before its children's).
type tinyNet struct {
	nn.Base
	Features *nn.Sequential
	Conv     *nn.Conv2d
	BN       *nn.BatchNorm2d
	Drop     *nn.Dropout
	FC       *nn.Linear
	Scale    *ag.Var
	Offset   *tensor.Tensor
}

func newTiny(seed uint64) *tinyNet {
	r := rand.New(rand.NewPCG(seed, 1))
	m := &tinyNet{}
	m.Conv = nn.NewConv2d(2, 3, 3, ag.ConvOpts{Padding: 1}, true, r)
	m.BN = nn.NewBatchNorm2d(3)
	m.Features = nn.AddChild(&m.Base, "features",
		nn.NewSequential(m.Conv, m.BN, nn.NewSequential(&nn.ReLU{}, &nn.Identity{})))
	m.Drop = nn.AddChild(&m.Base, "drop", &nn.Dropout{P: 0.5, Rng: rand.New(rand.NewPCG(seed, 2))})
	m.FC = nn.AddChild(&m.Base, "fc", nn.NewLinear(3*4*4, 5, true, r))
	m.Scale = m.AddParam("scale", tensor.Full(1, 1))
	m.Offset = m.AddBuffer("offset", tensor.New(5))
	return nn.Build(m)
}

func (m *tinyNet) Forward(x *ag.Var) *ag.Var {
	h := ag.Flatten(m.Features.Forward(x))
	y := m.FC.Forward(m.Drop.Forward(h))
	return m.Out(ag.Mul(y, m.Scale))
}

// tinyInput is a [2, 2, 4, 4] input.
func tinyInput(seed uint64) *ag.Var { return ag.RandVar(seed, false, 2, 2, 4, 4) }

var tinyPaths = []string{"features", "features.0", "features.1", "features.2", "features.2.0", "features.2.1", "drop", "fc"}

var tinyStateNames = []string{
	"scale", "offset",
	"features.0.weight", "features.0.bias",
	"features.1.weight", "features.1.bias", "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked",
	"fc.weight", "fc.bias",
}

func TestBuildPathsAndWalkOrder(t *testing.T) {
	m := newTiny(1)
	var walked []string
	nn.Walk(m, func(path string, sub nn.Module) {
		walked = append(walked, path)
		p, ok := sub.(interface{ Path() string })
		if !ok || p.Path() != path {
			t.Errorf("module at %q has Path %q", path, p.Path())
		}
		if tr := sub.(interface{ Training() bool }); !tr.Training() {
			t.Errorf("Build left %q out of training mode", path)
		}
	})
	if want := append([]string{""}, tinyPaths...); !slices.Equal(walked, want) {
		t.Fatalf("Walk order %q, want %q", walked, want)
	}
	if got := nn.ModulePaths(m); !slices.Equal(got, tinyPaths) {
		t.Fatalf("ModulePaths = %q, want %q", got, tinyPaths)
	}
	if m.BN.Path() != "features.1" || m.FC.Path() != "fc" || m.Path() != "" {
		t.Fatalf("paths: bn %q fc %q root %q", m.BN.Path(), m.FC.Path(), m.Path())
	}
}

func TestFind(t *testing.T) {
	m := newTiny(1)
	for path, want := range map[string]nn.Module{
		"":           m,
		"features":   m.Features,
		"features.0": m.Conv,
		"features.1": m.BN,
		"fc":         m.FC,
	} {
		got, err := nn.Find(m, path)
		if err != nil || got != want {
			t.Errorf("Find(%q) = %T, %v", path, got, err)
		}
	}
	for _, path := range []string{"nope", "features.3", "fc.weight", "features.2.0.x", ".fc"} {
		_, err := nn.Find(m, path)
		if err == nil {
			t.Fatalf("Find(%q) found something", path)
		}
		msg := err.Error()
		if !strings.Contains(msg, fmt.Sprintf("%q", path)) || !strings.Contains(msg, "features.2.1") || !strings.Contains(msg, "fc") {
			t.Errorf("Find(%q) error %q does not name the path and the known modules", path, msg)
		}
	}
}

// maskChannel returns a hook zeroing channel c of an NCHW output.
func maskChannel(c, channels int) nn.Hook {
	mask := tensor.Full(1, 1, channels, 1, 1)
	mask.Data[c] = 0
	return func(y *ag.Var) *ag.Var { return ag.Mul(y, ag.Const(mask)) }
}

func TestSetHookReplacesOutput(t *testing.T) {
	m := newTiny(1)
	nn.SetTraining(m, false)
	x := tinyInput(2)
	plainConv := m.Conv.Forward(x).Value.Clone()
	plainOut := m.Forward(x).Value.Clone()

	if err := nn.SetHook(m, "features.0", maskChannel(1, 3)); err != nil {
		t.Fatal(err)
	}
	var bnOut *tensor.Tensor
	if err := nn.SetHook(m, "features.1", func(y *ag.Var) *ag.Var { bnOut = y.Value.Clone(); return y }); err != nil {
		t.Fatal(err)
	}
	// Calling the module itself applies its hook.
	conv := m.Conv.Forward(x).Value
	hw := 16
	for n := 0; n < 2; n++ {
		for c := 0; c < 3; c++ {
			for i := 0; i < hw; i++ {
				k := (n*3+c)*hw + i
				want := plainConv.Data[k]
				if c == 1 {
					want = 0
				}
				if conv.Data[k] != want {
					t.Fatalf("hooked conv output [%d,%d,%d] = %v, want %v", n, c, i, conv.Data[k], want)
				}
			}
		}
	}
	// So does running the whole model: the masked channel reaches the BN
	// (eval mode, zero running mean, zero bias) as zeros.
	hooked := m.Forward(x).Value.Clone()
	if bnOut == nil {
		t.Fatal("observing hook on features.1 was not called")
	}
	for n := 0; n < 2; n++ {
		for i := 0; i < hw; i++ {
			if v := bnOut.Data[(n*3+1)*hw+i]; v != 0 {
				t.Fatalf("BN output of the masked channel = %v, want 0", v)
			}
		}
	}
	if slices.Equal(hooked.Data, plainOut.Data) {
		t.Fatal("masking a channel did not change the model output")
	}

	// Setting a hook again replaces the earlier one.
	calls := 0
	if err := nn.SetHook(m, "features.0", func(y *ag.Var) *ag.Var { calls++; return y }); err != nil {
		t.Fatal(err)
	}
	if got := m.Forward(x).Value; calls != 1 || !slices.Equal(got.Data, plainOut.Data) {
		t.Fatalf("replacing hook: %d calls, output equal to plain: %v", calls, slices.Equal(got.Data, plainOut.Data))
	}
	// A nil hook removes it; the other hook stays.
	if err := nn.SetHook(m, "features.0", nil); err != nil {
		t.Fatal(err)
	}
	bnOut = nil
	m.Forward(x)
	if calls != 1 || bnOut == nil {
		t.Fatalf("after removing features.0's hook: %d calls (want 1), features.1 hook called: %v", calls, bnOut != nil)
	}
	// A hook on the root replaces the model's output.
	if err := nn.SetHook(m, "", func(y *ag.Var) *ag.Var { return ag.Scale(y, 0) }); err != nil {
		t.Fatal(err)
	}
	for _, v := range m.Forward(x).Value.Data {
		if v != 0 {
			t.Fatalf("root hook not applied: %v", v)
		}
	}
	// ClearHooks removes every hook of the tree.
	nn.ClearHooks(m)
	bnOut = nil
	if got := m.Forward(x).Value; !slices.Equal(got.Data, plainOut.Data) || bnOut != nil {
		t.Fatalf("ClearHooks left a hook in place (output equal: %v, bn hook called: %v)", slices.Equal(got.Data, plainOut.Data), bnOut != nil)
	}
}

func TestSetHookErrors(t *testing.T) {
	m := newTiny(1)
	err := nn.SetHook(m, "features.7", func(y *ag.Var) *ag.Var { return y })
	if err == nil || !strings.Contains(err.Error(), `"features.7"`) || !strings.Contains(err.Error(), "features.0") {
		t.Fatalf("hook on an unknown path: %v", err)
	}
	unbuilt := nn.NewSequential(&nn.ReLU{})
	err = nn.SetHook(unbuilt, "0", func(y *ag.Var) *ag.Var { return y })
	if err == nil || !strings.Contains(err.Error(), "Build") {
		t.Fatalf("hook on an unbuilt tree: %v", err)
	}
	nn.ClearHooks(unbuilt) // must not panic
}

func TestHooksArePerTree(t *testing.T) {
	a, b := newTiny(1), newTiny(1)
	nn.SetTraining(a, false)
	nn.SetTraining(b, false)
	if err := nn.SetHook(a, "fc", func(y *ag.Var) *ag.Var { return ag.Scale(y, 0) }); err != nil {
		t.Fatal(err)
	}
	x := tinyInput(3)
	ya, yb := a.Forward(x).Value, b.Forward(x).Value
	if slices.Equal(ya.Data, yb.Data) {
		t.Fatal("a hook on one tree changed (or failed to change) the other")
	}
	for _, v := range ya.Data {
		if v != 0 {
			t.Fatalf("hook on a's fc not applied: %v", ya.Data)
		}
	}
}

func TestParamsAndStateDictOrder(t *testing.T) {
	m := newTiny(1)
	sd := nn.StateDict(m)
	var names, paramNames []string
	for _, e := range sd {
		names = append(names, e.Name)
		if e.Param {
			paramNames = append(paramNames, e.Name)
		}
	}
	if !slices.Equal(names, tinyStateNames) {
		t.Fatalf("StateDict names\n%q\nwant\n%q", names, tinyStateNames)
	}
	var pnames []string
	for _, p := range nn.Params(m) {
		pnames = append(pnames, p.Name)
	}
	wantParams := []string{"scale", "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias", "fc.weight", "fc.bias"}
	if !slices.Equal(pnames, wantParams) || !slices.Equal(paramNames, wantParams) {
		t.Fatalf("Params %q, StateDict params %q, want %q", pnames, paramNames, wantParams)
	}
	// The entries are the module's own tensors and Vars.
	ps := nn.Params(m)
	if ps[1].Var != m.Conv.Weight || ps[6].Var != m.FC.Bias || !ps[0].RequiresGrad() {
		t.Fatal("Params does not return the modules' own Vars")
	}
	if sd[6].Tensor != m.BN.RunningMean || sd[8].Tensor != m.BN.NumBatches || sd[1].Tensor != m.Offset {
		t.Fatal("StateDict does not return the modules' own buffers")
	}
	sd[9].Tensor.Data[0] = 123
	if m.FC.Weight.Value.Data[0] != 123 {
		t.Fatal("StateDict returned a copy of fc.weight")
	}
	shapes := map[string][]int{
		"features.0.weight": {3, 2, 3, 3}, "features.0.bias": {3},
		"features.1.num_batches_tracked": {}, "fc.weight": {5, 48}, "fc.bias": {5},
	}
	for _, e := range sd {
		if want, ok := shapes[e.Name]; ok && !tensor.SameShape(e.Tensor.Shape, want) {
			t.Errorf("%s: shape %v, want %v", e.Name, e.Tensor.Shape, want)
		}
	}
}

func TestNumBatchesTracked(t *testing.T) {
	m := newTiny(1)
	x := tinyInput(4)
	nb := func() float32 { return m.BN.NumBatches.Data[0] }
	m.Forward(x)
	m.Forward(x)
	if nb() != 2 {
		t.Fatalf("after two training forwards num_batches_tracked = %v", nb())
	}
	mean := m.BN.RunningMean.Clone()
	if slices.Equal(mean.Data, []float32{0, 0, 0}) {
		t.Fatal("training forward did not update running_mean")
	}
	nn.SetTraining(m, false)
	m.Forward(x)
	if nb() != 2 || !slices.Equal(m.BN.RunningMean.Data, mean.Data) {
		t.Fatalf("eval forward changed the statistics: num_batches_tracked %v", nb())
	}
	nn.SetTraining(m, true)
	m.BN.FrozenStats = true
	m.Forward(x)
	if nb() != 2 || !slices.Equal(m.BN.RunningMean.Data, mean.Data) {
		t.Fatalf("FrozenStats forward changed the statistics: num_batches_tracked %v", nb())
	}
	m.BN.FrozenStats = false
	m.Forward(x)
	if nb() != 3 {
		t.Fatalf("num_batches_tracked = %v after unfreezing, want 3", nb())
	}
}

// snapshot clones every tensor of m's state dict.
func snapshot(m nn.Module) map[string][]float32 {
	out := map[string][]float32{}
	for _, e := range nn.StateDict(m) {
		out[e.Name] = slices.Clone(e.Tensor.Data)
	}
	return out
}

func sameState(a, b map[string][]float32) string {
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return k
		}
	}
	return ""
}

// donor returns the state dict of another tinyNet as a map of copies, with
// every value different from newTiny(1)'s.
func donor() map[string]*tensor.Tensor {
	d := newTiny(2)
	d.Forward(tinyInput(5)) // moves the running statistics and num_batches_tracked
	d.Scale.Value.Data[0] = 3
	d.Offset.Data[2] = -1
	vals := map[string]*tensor.Tensor{}
	for _, e := range nn.StateDict(d) {
		vals[e.Name] = e.Tensor.Clone()
	}
	return vals
}

func TestLoadStateDict(t *testing.T) {
	vals := donor()
	m := newTiny(1)
	if err := nn.LoadStateDict(m, vals); err != nil {
		t.Fatal(err)
	}
	for _, e := range nn.StateDict(m) {
		if !slices.Equal(e.Tensor.Data, vals[e.Name].Data) {
			t.Fatalf("%s not loaded", e.Name)
		}
		if len(e.Tensor.Data) > 0 && &e.Tensor.Data[0] == &vals[e.Name].Data[0] {
			t.Fatalf("%s: the model now shares the caller's tensor", e.Name)
		}
	}
	vals["fc.weight"].Data[0] = 99
	if m.FC.Weight.Value.Data[0] == 99 {
		t.Fatal("LoadStateDict did not copy fc.weight")
	}
	// A one-element tensor fits whatever one-element shape the file gives
	// (PyTorch writes num_batches_tracked as a 0-d tensor; some writers as [1]).
	vals = donor()
	vals["features.1.num_batches_tracked"] = tensor.FromData([]float32{7}, 1)
	if err := nn.LoadStateDict(m, vals); err != nil || m.BN.NumBatches.Data[0] != 7 {
		t.Fatalf("[1]-shaped num_batches_tracked: %v (value %v)", err, m.BN.NumBatches.Data[0])
	}
}

func TestLoadStateDictRejectsMismatch(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(map[string]*tensor.Tensor)
		wants []string
	}{
		{"missing", func(v map[string]*tensor.Tensor) { delete(v, "features.1.running_var") },
			[]string{"missing", "features.1.running_var"}},
		{"missing buffer of root", func(v map[string]*tensor.Tensor) { delete(v, "offset") },
			[]string{"missing", "offset"}},
		{"unexpected", func(v map[string]*tensor.Tensor) { v["features.3.weight"] = tensor.New(3) },
			[]string{"unexpected", "features.3.weight"}},
		{"wrong shape", func(v map[string]*tensor.Tensor) { v["fc.weight"] = tensor.New(48, 5) },
			[]string{"wrong shape", "fc.weight", "[48 5]", "[5 48]"}},
		{"wrong rank", func(v map[string]*tensor.Tensor) { v["features.0.bias"] = tensor.New(3, 1) },
			[]string{"wrong shape", "features.0.bias"}},
		{"all three", func(v map[string]*tensor.Tensor) {
			delete(v, "fc.bias")
			v["fc.extra"] = tensor.New(1)
			v["features.0.weight"] = tensor.New(3, 2, 1, 1)
		}, []string{"missing", "fc.bias", "unexpected", "fc.extra", "wrong shape", "features.0.weight"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newTiny(1)
			m.Forward(tinyInput(6))
			before := snapshot(m)
			vals := donor()
			c.edit(vals)
			err := nn.LoadStateDict(m, vals)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if k := sameState(before, snapshot(m)); k != "" {
				t.Fatalf("a failed load changed %s", k)
			}
		})
	}
}

func TestSetTrainingSwitchesDropoutAndBN(t *testing.T) {
	m := newTiny(1)
	x := tinyInput(7)
	nn.SetTraining(m, false)
	e1 := m.Forward(x).Value.Clone()
	e2 := m.Forward(x).Value.Clone()
	if !slices.Equal(e1.Data, e2.Data) {
		t.Fatal("evaluation mode is not deterministic")
	}
	nn.Walk(m, func(p string, sub nn.Module) {
		if sub.(interface{ Training() bool }).Training() {
			t.Errorf("%q still in training mode", p)
		}
	})
	// Eval mode: BN uses the running statistics (mean 0, var 1), so its
	// output is its input scaled by 1/sqrt(1+eps).
	conv := m.Conv.Forward(x).Value
	bn := m.BN.Forward(ag.Const(conv)).Value
	s := float32(1 / math.Sqrt(1+1e-5))
	for i, v := range conv.Data {
		if d := math.Abs(float64(bn.Data[i] - v*s)); d > 1e-6 {
			t.Fatalf("eval BN output %v, want %v", bn.Data[i], v*s)
		}
	}
	nn.SetTraining(m, true)
	// Training mode: BN normalises with the batch statistics: each channel
	// has mean ≈ 0 and variance ≈ 1.
	bn = m.BN.Forward(ag.Const(conv)).Value
	for c := 0; c < 3; c++ {
		var sum, sq float64
		for n := 0; n < 2; n++ {
			for _, v := range bn.Data[(n*3+c)*16 : (n*3+c+1)*16] {
				sum += float64(v)
				sq += float64(v) * float64(v)
			}
		}
		if mean, vr := sum/32, sq/32; math.Abs(mean) > 1e-5 || math.Abs(vr-1) > 1e-3 {
			t.Fatalf("training BN channel %d: mean %v var %v", c, mean, vr)
		}
	}
	// And the dropout is active: two training forwards differ, and differ from eval.
	t1 := m.Forward(x).Value.Clone()
	t2 := m.Forward(x).Value.Clone()
	if slices.Equal(t1.Data, t2.Data) {
		t.Fatal("two training forwards drew the same dropout mask")
	}
}
