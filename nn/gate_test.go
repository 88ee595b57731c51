package nn_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	ag "ebyd/autograd"
	"ebyd/nn"
	"ebyd/tensor"
)

// plainNet has no BatchNorm: conv 2→3 k3 p1, ReLU, fc1 48→6, ReLU, fc2 6→4
// (the shape of mnistnet).
type plainNet struct {
	nn.Base
	Conv     *nn.Conv2d
	FC1, FC2 *nn.Linear
}

func newPlain(seed uint64) *plainNet {
	r := rand.New(rand.NewPCG(seed, 1))
	m := &plainNet{}
	m.Conv = nn.AddChild(&m.Base, "conv", nn.NewConv2d(2, 3, 3, ag.ConvOpts{Padding: 1}, true, r))
	m.FC1 = nn.AddChild(&m.Base, "fc1", nn.NewLinear(48, 6, true, r))
	m.FC2 = nn.AddChild(&m.Base, "fc2", nn.NewLinear(6, 4, true, r))
	return nn.Build(m)
}

func (m *plainNet) Forward(x *ag.Var) *ag.Var {
	h := ag.ReLU(m.Conv.Forward(x))
	h = ag.ReLU(m.FC1.Forward(ag.Flatten(h)))
	return m.Out(m.FC2.Forward(h))
}

func forward(m nn.Module, x *ag.Var) []float32 {
	var out []float32
	ag.NoGrad(func() { out = slices.Clone(m.Forward(x).Value.Data) })
	return out
}

func closeAll(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= tol*math.Max(1, math.Abs(float64(want[i])))) {
			t.Fatalf("%s: element %d: %v, want %v", what, i, got[i], want[i])
		}
	}
}

// randomise gives every gate a random mask and noise.
func randomise(g *nn.Gates, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 9))
	for _, gt := range g.List {
		for c := range gt.Channels {
			gt.Mask.Value.Data[c] = float32(r.Float64())
			gt.WeightNoise.Value.Data[c] = float32(r.Float64() - 0.5)
			gt.BiasNoise.Value.Data[c] = float32(r.Float64() - 0.5)
		}
	}
}

func TestChannelGatesChoosesLayers(t *testing.T) {
	g, err := nn.ChannelGates(newPlain(1))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, gt := range g.List {
		got = append(got, string(gt.Site)+":"+gt.Path)
	}
	if want := []string{"conv:conv", "linear:fc1"}; !slices.Equal(got, want) || g.Channels() != 9 {
		t.Fatalf("gates on a network without BatchNorm: %v (%d channels), want %v (9): the logits stay ungated", got, g.Channels(), want)
	}
	g.Remove()

	g, err = nn.ChannelGates(newTiny(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.List) != 1 || g.List[0].Path != "features.1" || g.List[0].Site != nn.GateBatchNorm {
		t.Fatalf("a network with BatchNorm gets its BatchNorm channels gated, got %+v", g.List)
	}
	if last, err := nn.LastLinear(newPlain(1)); err != nil || last != "fc2" {
		t.Fatalf("LastLinear = %q, %v; want fc2", last, err)
	}
}

// Gates start as the identity; with masks and noise they compute what the
// Gate formula says, and Fold writes exactly that into the weights.
func TestGatesFoldIsExact(t *testing.T) {
	x := ag.RandVar(3, false, 5, 2, 4, 4)
	for _, tc := range []struct {
		name string
		net  func() nn.Module
	}{
		{"no BatchNorm", func() nn.Module { return newPlain(2) }},
		{"BatchNorm", func() nn.Module { m := newTiny(2); nn.SetTraining(m, false); return m }},
	} {
		for _, perturb := range []bool{false, true} {
			m := tc.net()
			before := forward(m, x)
			g, err := nn.ChannelGates(m)
			if err != nil {
				t.Fatal(err)
			}
			closeAll(t, tc.name+": fresh gates", forward(m, x), before, 0)
			randomise(g, 4)
			g.Perturb(perturb)
			gated := forward(m, x)
			if slices.Equal(gated, before) {
				t.Fatalf("%s: random gates changed nothing", tc.name)
			}
			g.Fold()
			closeAll(t, tc.name+": folded", forward(m, x), gated, 1e-5)
			if _, err := nn.ChannelGates(m); err != nil {
				t.Fatalf("%s: gating again after Fold: %v", tc.name, err)
			}
		}
	}
}

// On a conv or dense layer, a zero mask leaves the channel its bias (as RNP's
// pruning leaves a BatchNorm channel its β), and noise scales as the formula.
func TestGateFormulaOnConvAndLinear(t *testing.T) {
	m := newPlain(5)
	x := ag.RandVar(6, false, 2, 2, 4, 4)
	var conv *tensor.Tensor
	ag.NoGrad(func() { conv = m.Conv.Forward(x).Value.Clone() })

	g, err := nn.NewGates(m, "conv", "fc1")
	if err != nil {
		t.Fatal(err)
	}
	g.List[0].Mask.Value.Data[1] = 0
	g.List[1].Mask.Value.Data[2] = 0.5
	g.List[1].WeightNoise.Value.Data[2] = 0.2
	g.List[1].BiasNoise.Value.Data[2] = -0.5
	g.Perturb(true)
	var conv2, fc2 *tensor.Tensor
	// The gated layers' outputs, running them one by one.
	ag.NoGrad(func() {
		conv2 = m.Conv.Forward(x).Value.Clone()
		fc2 = m.FC1.Forward(ag.Flatten(ag.ReLU(ag.Const(conv2)))).Value.Clone()
	})
	b := m.Conv.Bias.Value.Data[1]
	for n := range 2 {
		for i := range 16 {
			if v := conv2.Data[(n*3+1)*16+i]; v != b {
				t.Fatalf("masked conv channel: %v, want its bias %v", v, b)
			}
			if v, w := conv2.Data[(n*3)*16+i], conv.Data[(n*3)*16+i]; v != w {
				t.Fatalf("unmasked conv channel changed: %v, want %v", v, w)
			}
		}
	}
	// fc1 unit 2, recomputed from the gated conv output.
	var plain *tensor.Tensor
	ag.NoGrad(func() {
		plain = ag.Linear(ag.Flatten(ag.ReLU(ag.Const(conv2))), m.FC1.Weight, m.FC1.Bias).Value
	})
	for n := range 2 {
		bias := float64(m.FC1.Bias.Value.Data[2])
		want := 0.5*1.2*(float64(plain.Data[n*6+2])-bias) + 0.5*bias
		if d := math.Abs(float64(fc2.Data[n*6+2]) - want); d > 1e-5 {
			t.Fatalf("gated dense unit: %v, want %v", fc2.Data[n*6+2], want)
		}
	}
}

func TestGateGradients(t *testing.T) {
	m := newPlain(7)
	g, err := nn.ChannelGates(m)
	if err != nil {
		t.Fatal(err)
	}
	randomise(g, 8)
	g.Perturb(true)
	x := ag.RandVar(9, false, 3, 2, 4, 4)
	ins := append(append(g.Masks(), g.Noises()...), m.Conv.Bias, m.FC1.Bias, m.FC1.Weight)
	// Without the ReLUs, whose kinks finite differences cannot cross.
	smooth := func() *ag.Var { return m.FC2.Forward(m.FC1.Forward(ag.Flatten(m.Conv.Forward(x)))) }
	if err := ag.CheckGrad(smooth, ins, 1e-2, 2e-2); err != nil {
		t.Fatal(err)
	}
}

func TestGatesRemoveAndErrors(t *testing.T) {
	m := newPlain(1)
	x := ag.RandVar(2, false, 2, 2, 4, 4)
	before := forward(m, x)
	g, err := nn.ChannelGates(m)
	if err != nil {
		t.Fatal(err)
	}
	randomise(g, 3)
	if _, err := nn.NewGates(m, "conv"); err == nil || !strings.Contains(err.Error(), "already has a hook") {
		t.Fatalf("gating a gated layer again: %v", err)
	}
	g.Remove()
	closeAll(t, "after Remove", forward(m, x), before, 0)

	for _, tc := range []struct {
		paths []string
		want  string
	}{
		{[]string{"nope"}, "no module named"},
		{[]string{"conv", "conv"}, "twice"},
		{nil, "no layers"},
	} {
		if _, err := nn.NewGates(m, tc.paths...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewGates(%v): %v, want an error containing %q", tc.paths, err, tc.want)
		}
	}
	tiny := newTiny(1)
	if _, err := nn.NewGates(tiny, "features.2.0"); err == nil || !strings.Contains(err.Error(), "cannot gate") {
		t.Errorf("gating a ReLU: %v", err)
	}
	g, _ = nn.NewGates(tiny, "features.1")
	if _, err := nn.NewGates(tiny, "features.1"); err == nil || !strings.Contains(err.Error(), "already carries") {
		t.Errorf("gating a gated BatchNorm again: %v", err)
	}
	g.Remove()
	if tiny.BN.Mask != nil {
		t.Error("Remove left the BatchNorm's mask")
	}
}

// Watch sees each gated layer's output after its gate, BatchNorm included.
func TestGatesWatch(t *testing.T) {
	for _, m := range []nn.Module{newPlain(1), newTiny(1)} {
		nn.SetTraining(m, false)
		g, err := nn.ChannelGates(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, gt := range g.List {
			gt.Mask.Value.Data[0] = 0
		}
		seen := map[string][]int{}
		var first []float32
		g.Watch(func(gt *nn.Gate, out *ag.Var) {
			seen[gt.Path] = out.Value.Shape
			if first == nil {
				first = slices.Clone(out.Value.Data)
			}
		})
		forward(m, ag.RandVar(1, false, 2, 2, 4, 4))
		if len(seen) != len(g.List) {
			t.Fatalf("watched %v, want every gated layer", seen)
		}
		gt := g.List[0]
		bias := float32(0)
		switch l := any(m).(type) {
		case *plainNet:
			bias = l.Conv.Bias.Value.Data[0]
		case *tinyNet:
			bias = l.BN.Bias.Value.Data[0]
		}
		if first[0] != bias || seen[gt.Path][1] != gt.Channels {
			t.Fatalf("%s: watched output %v (shape %v), want the gated output (masked channel 0 = its bias %v)", gt.Path, first[0], seen[gt.Path], bias)
		}
		g.Watch(nil)
		first = nil
		forward(m, ag.RandVar(1, false, 2, 2, 4, 4))
		if first != nil {
			t.Fatal("Watch(nil) still watching")
		}
		g.Remove()
	}
}
