package attack

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	ag "ebyd/autograd"
	"ebyd/checkpoint"
	"ebyd/data"
	"ebyd/models"
	"ebyd/nn"
	"ebyd/tensor"
)

func iadCountParams(m nn.Module) int {
	n := 0
	for _, p := range nn.Params(m) {
		n += p.Value.Len()
	}
	return n
}

func TestIADGeneratorShapes(t *testing.T) {
	for _, c := range []struct {
		s              Shape
		width, steps   int
		paramsG, parM  int // the release's Generator, counted by PyTorch
		entries, lastC int
	}{
		{Shape{28, 28, 1}, 16, 2, 42339, 42339, 63, 1},
		{Shape{32, 32, 3}, 32, 3, 723273, 722691, 91, 3},
	} {
		tr := mustNew(t, "iad", c.s, "").(*IAD)
		if tr.ChannelInit != c.width || tr.Steps != c.steps {
			t.Fatalf("%v: width %d, %d steps; want the release's %d and %d", c.s, tr.ChannelInit, tr.Steps, c.width, c.steps)
		}
		if got := iadCountParams(tr.g); got != c.paramsG {
			t.Errorf("%v: G has %d parameters, the release's %d", c.s, got, c.paramsG)
		}
		if got := iadCountParams(tr.m); got != c.parM {
			t.Errorf("%v: M has %d parameters, the release's %d", c.s, got, c.parM)
		}
		sd := nn.StateDict(tr.g)
		last := 2*c.steps - 1
		if len(sd) != c.entries || sd[0].Name != "convblock_down_0.conv2d.weight" ||
			sd[len(sd)-1].Name != "convblock_up_"+strconv.Itoa(last)+".batch_norm.num_batches_tracked" {
			t.Errorf("%v: state dict %d entries from %s to %s", c.s, len(sd), sd[0].Name, sd[len(sd)-1].Name)
		}
		x := ag.RandVar(5, false, 2, c.s.C, c.s.H, c.s.W)
		var p, m *ag.Var
		ag.NoGrad(func() { p, m = tr.g.Forward(x), iadThreshold(tr.m.Forward(x)) })
		if want := []int{2, c.s.C, c.s.H, c.s.W}; !slices.Equal(p.Shape(), want) {
			t.Errorf("%v: pattern %v, want %v", c.s, p.Shape(), want)
		}
		if want := []int{2, 1, c.s.H, c.s.W}; !slices.Equal(m.Shape(), want) {
			t.Errorf("%v: mask %v, want %v", c.s, m.Shape(), want)
		}
		for _, v := range append(slices.Clone(p.Value.Data), m.Value.Data...) {
			if !(v > 0 && v < 1) {
				t.Fatalf("%v: generator value %v outside (0, 1)", c.s, v)
			}
		}
	}
}

// TestIADGeneratorTorch loads generators of the release's architecture saved
// by PyTorch (testdata/iad_gen.py) and compares their evaluation-mode
// outputs and mask thresholds.
func TestIADGeneratorTorch(t *testing.T) {
	for _, c := range []struct {
		file                      string
		in, out, width, steps, hw int
	}{
		{"testdata/iad_generator_28x28x1.pt", 1, 1, 16, 2, 28},
		{"testdata/iad_generator_32x32x3.pt", 3, 3, 4, 3, 32},
	} {
		sd, err := checkpoint.Load(c.file)
		if err != nil {
			t.Fatal(err)
		}
		weights := map[string]*tensor.Tensor{}
		for _, e := range sd.Entries {
			if name, ok := strings.CutPrefix(e.Name, "netG."); ok {
				weights[name] = e.Tensor
			}
		}
		g := newIADGenerator(c.in, c.out, c.width, c.steps, rand.New(rand.NewPCG(1, 2)))
		if err := nn.LoadStateDict(g, weights); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		nn.SetTraining(g, false)
		x, _ := sd.Get("input")
		var y, th *ag.Var
		ag.NoGrad(func() {
			y = g.Forward(ag.Const(x))
			th = iadThreshold(y)
		})
		for _, want := range []struct {
			name string
			got  *ag.Var
		}{{"output", y}, {"threshold", th}} {
			w, _ := sd.Get(want.name)
			if !slices.Equal(w.Shape, want.got.Shape()) {
				t.Fatalf("%s: %s shape %v, PyTorch %v", c.file, want.name, want.got.Shape(), w.Shape)
			}
			var worst float64
			for i, v := range w.Data {
				worst = max(worst, math.Abs(float64(v-want.got.Value.Data[i])))
			}
			if worst > 2e-5 {
				t.Errorf("%s: %s differs from PyTorch by up to %g", c.file, want.name, worst)
			}
		}
	}
}

func TestIADPrepareErrors(t *testing.T) {
	for _, c := range []struct {
		s             Shape
		params, wants string
	}{
		{Shape{28, 28, 3}, "", "multiples of 8"},
		{Shape{28, 28, 1}, `{"steps": 1}`, "steps 1"},
		{Shape{28, 28, 1}, `{"cross_rate": 1}`, "cross_rate"},
		{Shape{28, 28, 1}, `{"lr_g": 0}`, "lr_g"},
		{Shape{28, 28, 1}, `{"mean": [0.1, 0.2], "std": [1, 1]}`, "2 values for images of 1 channels"},
		{Shape{28, 28, 1}, `{"mean": [0.1], "std": [0]}`, "std must be positive"},
		{Shape{28, 28, 1}, `{"mask_epoch": 3}`, "unknown field"},
	} {
		_, err := New("iad", c.s, json.RawMessage(c.params))
		if err == nil || !strings.Contains(err.Error(), c.wants) {
			t.Errorf("%v %s: error %v, want %q", c.s, c.params, err, c.wants)
		}
	}
}

// iadToy is a 4-class set of 16×16 gray images: a bright quadrant per class
// on noise.
func iadToy(n int, seed uint64) *data.Dataset {
	ds := &data.Dataset{Name: "toy", N: n, H: 16, W: 16, C: 1, Classes: 4, Mean: []float32{0.3}, Std: []float32{0.3}}
	r := rand.New(rand.NewPCG(seed, 1))
	ds.Images = make([]uint8, n*256)
	for i := range n {
		y := i % 4
		ds.Labels = append(ds.Labels, y)
		img := ds.Image(i)
		for p := range img {
			v := r.IntN(80)
			if (p/16 < 8) == (y < 2) && (p%16 < 8) == (y%2 == 0) {
				v += 150
			}
			img[p] = uint8(v)
		}
	}
	return ds
}

func iadSnapshot(m nn.Module) []float32 {
	var all []float32
	for _, p := range nn.Params(m) {
		all = append(all, p.Value.Data...)
	}
	return all
}

func TestIADFit(t *testing.T) {
	train := iadToy(200, 1)
	s := Shape{16, 16, 1}
	tr := mustNew(t, "iad", s, `{"channel_init": 4, "mask_epochs": 1, "mask_subset": 0}`).(*IAD)
	if tr.Ready() {
		t.Fatal("ready before Fit")
	}
	if _, err := tr.State(); err == nil {
		t.Error("State before Fit: no error")
	}
	model, err := models.New("mnistnet", models.Config{InChannels: 1, NumClasses: 4, InputSize: 16, Width: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := FitConfig{Epochs: 1, BatchSize: 20, Optimizer: "adam", LR: 1e-3, Schedule: "cosine", Seed: 3}
	p := Poisoning{Mode: All2One, Target: 1, Rate: 0.1, Seed: 5}

	if err := tr.Fit(context.Background(), model, train, Poisoning{Mode: CleanLabel, Target: 1, Rate: 0.1}, cfg, nil); err == nil ||
		!strings.Contains(err.Error(), "clean-label") {
		t.Errorf("clean-label Fit: error %v", err)
	}

	before := iadSnapshot(model)
	var calls, last, total int
	err = tr.Fit(context.Background(), model, train, p, cfg, func(done, tot int, _ string) { calls, last, total = calls+1, done, tot })
	if err != nil {
		t.Fatal(err)
	}
	// 10 mask steps (200 images, batch 20) and 10 joint steps.
	if calls != 20 || last != 20 || total != 20 {
		t.Errorf("progress: %d calls, last %d of %d; want 20 of 20", calls, last, total)
	}
	after := iadSnapshot(model)
	if slices.Equal(before, after) {
		t.Error("Fit did not change the classifier")
	}
	for _, net := range []nn.Module{model, tr.g, tr.m} {
		for _, q := range nn.Params(net) {
			if q.Value.HasNaN() {
				t.Fatalf("parameter %s is not finite", q.Name)
			}
		}
	}
	if !tr.Ready() || !slices.Equal(tr.Mean, train.Mean) || !slices.Equal(tr.Std, train.Std) {
		t.Fatalf("after Fit: ready %v, mean %v std %v", tr.Ready(), tr.Mean, tr.Std)
	}

	// Deterministic, image by image, and batches give the images' own bytes.
	test := iadToy(12, 9)
	a, b := slices.Clone(test.Images), slices.Clone(test.Images)
	tr.ApplyBatch(a)
	for i := range test.N {
		tr.Apply(b[i*256 : (i+1)*256])
	}
	if !slices.Equal(a, b) {
		t.Error("ApplyBatch and Apply disagree")
	}
	c := slices.Clone(test.Images)
	tr.ApplyBatch(c)
	if !slices.Equal(a, c) {
		t.Error("ApplyBatch is not deterministic")
	}
	if slices.Equal(a, test.Images) {
		t.Error("the trigger changed no pixel")
	}

	// A trigger rebuilt from the recorded parameters and state stamps the
	// same bytes.
	state, err := tr.State()
	if err != nil {
		t.Fatal(err)
	}
	again := mustNew(t, "iad", s, string(Params(tr))).(*IAD)
	d := slices.Clone(test.Images)
	again.ApplyBatch(d)
	if slices.Equal(a, d) {
		t.Error("an untrained trigger stamps the trained trigger's bytes")
	}
	if err := again.SetState(state); err != nil {
		t.Fatal(err)
	}
	d = slices.Clone(test.Images)
	again.ApplyBatch(d)
	if !slices.Equal(a, d) || !again.Ready() {
		t.Error("the trigger rebuilt from parameters and state stamps different bytes")
	}

	// Bad states are refused and leave the trigger as it was.
	for _, c := range []struct {
		tr   *IAD
		b    []byte
		want string
	}{
		{again, []byte("not safetensors"), "trigger state"},
		{mustNew(t, "iad", s, `{"channel_init": 8, "mean": [0.3], "std": [0.3]}`).(*IAD), state, "does not fit"},
		{mustNew(t, "iad", s, `{"channel_init": 4}`).(*IAD), state, "no mean and std"},
	} {
		if err := c.tr.SetState(c.b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("SetState: error %v, want %q", err, c.want)
		}
	}
	d = slices.Clone(test.Images)
	again.ApplyBatch(d)
	if !slices.Equal(a, d) {
		t.Error("a refused state changed the trigger")
	}
}

func TestIADFitErrors(t *testing.T) {
	train := iadToy(40, 1)
	model, err := models.New("mnistnet", models.Config{InChannels: 1, NumClasses: 4, InputSize: 16, Width: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := FitConfig{Epochs: 1, BatchSize: 20, Optimizer: "adam", LR: 1e-3, Seed: 3}
	p := Poisoning{Mode: All2All, Rate: 0.1, Seed: 5}
	for _, c := range []struct {
		s      Shape
		params string
		p      Poisoning
		cfg    FitConfig
		want   string
	}{
		{Shape{32, 32, 1}, "", p, cfg, "prepared for 32×32×1"},
		{Shape{16, 16, 1}, `{"cross_rate": 0.95}`, p, cfg, "exceed 1"},
		{Shape{16, 16, 1}, "", Poisoning{Mode: All2One, Target: 9, Rate: 0.1}, cfg, "labels are 0..3"},
		{Shape{16, 16, 1}, "", p, FitConfig{Epochs: 1, BatchSize: 20, Optimizer: "rmsprop", LR: 1}, "unknown optimizer"},
	} {
		tr := mustNew(t, "iad", c.s, c.params).(*IAD)
		if err := tr.Fit(context.Background(), model, train, c.p, c.cfg, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %s: error %v, want %q", c.s, c.params, err, c.want)
		}
	}
	// Cancelling stops training between steps.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tr := mustNew(t, "iad", Shape{16, 16, 1}, `{"channel_init": 4}`).(*IAD)
	if err := tr.Fit(ctx, model, train, p, cfg, nil); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("cancelled Fit: error %v", err)
	}
}
