package attack

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/nn"
	"ebyd/tensor"
)

// clRight and clLeft are the checker as the authors' code draws it in the
// right-hand corners and, mirrored, in the left-hand ones (255 white, 0 black).
var (
	clRight = [3][3]uint8{{0, 0, 255}, {0, 255, 0}, {255, 0, 255}}
	clLeft  = [3][3]uint8{{255, 0, 0}, {0, 255, 0}, {255, 0, 255}}
)

// clExpected stamps the expected patch on img: full cells at amp 255,
// otherwise pixels moved by ±amp (in 0–255 units) and clipped.
func clExpected(img []uint8, s Shape, corners, amp int) {
	put := func(r0, c0 int, g [3][3]uint8) {
		for i := range 3 {
			for j := range 3 {
				for c := range s.C {
					p := ((r0+i)*s.W+c0+j)*s.C + c
					v := int(img[p])
					if g[i][j] == 255 {
						v = min(255, v+amp)
					} else {
						v = max(0, v-amp)
					}
					img[p] = uint8(v)
				}
			}
		}
	}
	put(s.H-3, s.W-3, clRight)
	if corners == 4 {
		put(0, s.W-3, clRight)
		put(0, 0, clLeft)
		put(s.H-3, 0, clLeft)
	}
}

func TestLabelConsistentPixels(t *testing.T) {
	for _, s := range []Shape{{32, 32, 3}, {28, 28, 1}} {
		for _, tc := range []struct {
			params       string
			corners, amp int
		}{
			{"", 1, 255},
			{`{"corners": 4}`, 4, 255},
			{`{"corners": 4, "amplitude": 0.12549019607843137}`, 4, 32},
			{`{"amplitude": 0.25098039215686274}`, 1, 64},
		} {
			img, want := ramp(s), ramp(s)
			clExpected(want, s, tc.corners, tc.amp)
			mustNew(t, "cl", s, tc.params).Apply(img)
			if !slices.Equal(img, want) {
				t.Errorf("%v %s: cl bytes differ from the hand-built patch", s, tc.params)
			}
		}
		// The default is BadNets' patch exactly.
		a, b := ramp(s), ramp(s)
		mustNew(t, "cl", s, "").Apply(a)
		mustNew(t, "badnets", s, "").Apply(b)
		if !slices.Equal(a, b) {
			t.Errorf("%v: default cl patch differs from badnets", s)
		}
	}
	// Corners of a 32×32 gray image, four-corner pattern.
	s := Shape{32, 32, 1}
	img := make([]uint8, s.Size())
	for i := range img {
		img[i] = 128
	}
	mustNew(t, "cl", s, `{"corners": 4}`).Apply(img)
	for _, px := range []struct{ r, c int }{{0, 0}, {0, 31}, {31, 0}, {31, 31}, {1, 1}, {30, 30}, {2, 29}, {29, 0}, {31, 2}} {
		if img[px.r*32+px.c] != 255 {
			t.Errorf("pixel (%d,%d) = %d, want 255", px.r, px.c, img[px.r*32+px.c])
		}
	}
	if img[3*32+3] != 128 || img[0*32+1] != 0 || img[0*32+30] != 0 || img[29*32+2] != 0 {
		t.Error("four-corner pattern misplaced")
	}
}

func TestLabelConsistentParams(t *testing.T) {
	s := Shape{28, 28, 1}
	tr := mustNew(t, "cl", s, `{"eps": 0.3}`).(*LabelConsistent)
	if tr.Step != 0.3/4 || tr.Steps != 10 || tr.Corners != 1 || tr.Amplitude != 1 {
		t.Errorf("resolved parameters %s", Params(tr))
	}
	again := mustNew(t, "cl", s, string(Params(tr))).(*LabelConsistent)
	if string(Params(again)) != string(Params(tr)) {
		t.Errorf("parameters %s rebuild as %s", Params(tr), Params(again))
	}
	for _, tc := range []struct{ params, want string }{
		{`{"eps": 0}`, "eps 0"},
		{`{"eps": 2}`, "eps 2"},
		{`{"step": -1}`, "step -1"},
		{`{"steps": 0}`, "at least 1 PGD step"},
		{`{"corners": 2}`, "corners 2"},
		{`{"amplitude": 0}`, "amplitude 0"},
		{`{"amplitude": 1.5}`, "amplitude 1.5"},
		{`{"epsilon": 0.1}`, `unknown field "epsilon"`},
	} {
		if _, err := New("cl", s, []byte(tc.params)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.params, err, tc.want)
		}
	}
	if _, err := New("cl", Shape{5, 5, 1}, []byte(`{"corners": 4}`)); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("four corners on 5×5: error %v", err)
	}
}

// clNet is a tiny convolution–BatchNorm–dense classifier of 6×6 gray images.
type clNet struct {
	nn.Base
	Conv *nn.Conv2d
	BN   *nn.BatchNorm2d
	FC   *nn.Linear
}

func (m *clNet) Forward(x *ag.Var) *ag.Var {
	x = ag.ReLU(m.BN.Forward(m.Conv.Forward(x)))
	return m.Out(m.FC.Forward(ag.Flatten(x)))
}

func newCLNet() *clNet {
	r := rand.New(rand.NewPCG(3, 4))
	m := &clNet{}
	m.Conv = nn.AddChild(&m.Base, "conv", nn.NewConv2d(1, 4, 3, ag.ConvOpts{Padding: 1}, true, r))
	m.BN = nn.AddChild(&m.Base, "bn", nn.NewBatchNorm2d(4))
	m.FC = nn.AddChild(&m.Base, "fc", nn.NewLinear(4*36, 4, true, r))
	for c := range 4 { // running statistics that differ from a batch's
		m.BN.RunningMean.Data[c] = 0.1 * float32(c)
		m.BN.RunningVar.Data[c] = 0.5 + 0.25*float32(c)
	}
	return nn.Build(m) // training mode
}

// clData is a seeded 6×6 gray dataset of n images in 4 classes (label i%4),
// normalised with a mean and deviation that are not 0 and 1.
func clData(n int) *data.Dataset {
	ds := &data.Dataset{Name: "cl", N: n, H: 6, W: 6, C: 1, Classes: 4, Mean: []float32{0.4}, Std: []float32{0.3}}
	r := rand.New(rand.NewPCG(5, 6))
	ds.Images = make([]uint8, n*36)
	for i := range ds.Images {
		ds.Images[i] = uint8(r.IntN(256))
	}
	for i := range n {
		ds.Labels = append(ds.Labels, i%4)
	}
	return ds
}

// clLoss is m's cross-entropy on each image of ds at idx, in evaluation mode.
func clLoss(m nn.Module, ds *data.Dataset, idx []int) []float32 {
	nn.SetTraining(m, false)
	defer nn.SetTraining(m, true)
	var out []float32
	ag.NoGrad(func() {
		x, y := data.Batch(ds, idx)
		out = slices.Clone(ag.CrossEntropyPerSample(m.Forward(ag.Const(x)), y).Value.Data)
	})
	return out
}

func snapshot(m nn.Module) map[string]*tensor.Tensor {
	st := map[string]*tensor.Tensor{}
	for _, e := range nn.StateDict(m) {
		st[e.Name] = e.Tensor.Clone()
	}
	return st
}

func TestLabelConsistentPerturb(t *testing.T) {
	s := Shape{6, 6, 1}
	ds := clData(40)
	idx := []int{1, 5, 9, 13, 17, 21, 25, 29} // class 1
	m := newCLNet()

	tr := mustNew(t, "cl", s, `{"eps": 0.1}`).(*LabelConsistent)
	if err := tr.Perturb(ds.Clone(), idx); err == nil || !strings.Contains(err.Error(), "UseSurrogate") {
		t.Fatalf("Perturb without a surrogate: error %v, want one naming UseSurrogate", err)
	}
	if err := tr.UseSurrogate(context.Background(), m, ds); err != nil {
		t.Fatal(err)
	}
	before := snapshot(m)
	got := ds.Clone()
	if err := tr.Perturb(got, idx); err != nil {
		t.Fatal(err)
	}

	// The surrogate is left as it was: weights, BatchNorm statistics,
	// gradients, gradient flags and training mode.
	for _, e := range nn.StateDict(m) {
		if !slices.Equal(e.Tensor.Data, before[e.Name].Data) {
			t.Errorf("Perturb changed the surrogate's %s", e.Name)
		}
	}
	for _, p := range nn.Params(m) {
		if p.Grad != nil || !p.RequiresGrad() {
			t.Errorf("parameter %s: gradient %v, requires grad %v after Perturb", p.Name, p.Grad != nil, p.RequiresGrad())
		}
	}
	if !m.Training() {
		t.Error("Perturb left the surrogate in evaluation mode")
	}

	// Within budget, only at idx, and harder to classify.
	budget := int(math.Ceil(0.1 * 255))
	in := map[int]bool{}
	changed := 0
	for _, i := range idx {
		in[i] = true
		for j, b := range ds.Image(i) {
			d := int(got.Image(i)[j]) - int(b)
			if d < -budget || d > budget {
				t.Fatalf("image %d byte %d moved by %d, over the budget %d", i, j, d, budget)
			}
			if d != 0 {
				changed++
			}
		}
	}
	if changed < len(idx)*36/2 {
		t.Errorf("only %d of %d bytes perturbed", changed, len(idx)*36)
	}
	for i := range ds.N {
		if !in[i] && !slices.Equal(got.Image(i), ds.Image(i)) {
			t.Errorf("image %d, not chosen, changed", i)
		}
	}
	if !slices.Equal(got.Labels, ds.Labels) {
		t.Error("Perturb changed labels")
	}
	l0, l1 := clLoss(m, ds, idx), clLoss(m, got, idx)
	var s0, s1 float64
	for k := range idx {
		s0, s1 = s0+float64(l0[k]), s1+float64(l1[k])
		if l1[k] < l0[k]-1e-4 {
			t.Errorf("image %d: loss on its true label fell from %g to %g", idx[k], l0[k], l1[k])
		}
	}
	if !(s1 > s0+0.1*float64(len(idx))) {
		t.Errorf("mean loss on the true labels %g → %g: the perturbation does not make the images harder", s0/8, s1/8)
	}
	t.Logf("mean surrogate loss on the true label: %.4f → %.4f", s0/8, s1/8)

	// Deterministic, with and without a random start.
	again := ds.Clone()
	if err := tr.Perturb(again, idx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Images, got.Images) {
		t.Error("Perturb is not deterministic")
	}
	var rs [3]*data.Dataset
	for k, p := range []string{`{"eps": 0.1, "random_start": true, "seed": 1}`, `{"eps": 0.1, "random_start": true, "seed": 1}`, `{"eps": 0.1, "random_start": true, "seed": 2}`} {
		tr := mustNew(t, "cl", s, p).(*LabelConsistent)
		if err := tr.UseSurrogate(context.Background(), m, ds); err != nil {
			t.Fatal(err)
		}
		rs[k] = ds.Clone()
		if err := tr.Perturb(rs[k], idx); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(rs[0].Images, rs[1].Images) {
		t.Error("random start: the same seed gives different images")
	}
	if slices.Equal(rs[0].Images, rs[2].Images) {
		t.Error("random start: different seeds give the same images")
	}

	// A cancelled context stops Perturb.
	ctx, cancel := context.WithCancel(context.Background())
	if err := tr.UseSurrogate(ctx, m, ds); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := tr.Perturb(ds.Clone(), idx); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("Perturb after cancel: error %v", err)
	}
	if err := tr.UseSurrogate(ctx, m, ds); err == nil {
		t.Error("UseSurrogate with a cancelled context: no error")
	}
}

// TestLabelConsistentPoison checks that Poison perturbs, then stamps, the
// clean-label images, and fails without a surrogate.
func TestLabelConsistentPoison(t *testing.T) {
	s := Shape{6, 6, 1}
	ds := clData(40)
	m := newCLNet()
	p := Poisoning{Mode: CleanLabel, Target: 2, Rate: 0.1, Seed: 9}
	tr := mustNew(t, "cl", s, `{"eps": 0.05, "steps": 3}`)
	if _, err := Poison(ds, tr, p); err == nil || !strings.Contains(err.Error(), "surrogate") {
		t.Fatalf("Poison without a surrogate: error %v", err)
	}
	if err := tr.(SurrogateUser).UseSurrogate(context.Background(), m, ds); err != nil {
		t.Fatal(err)
	}
	got, err := Poison(ds, tr, p)
	if err != nil {
		t.Fatal(err)
	}
	want := ds.Clone()
	if err := tr.(Perturber).Perturb(want, got.Indices); err != nil {
		t.Fatal(err)
	}
	for _, i := range got.Indices {
		tr.Apply(want.Image(i))
		if ds.Labels[i] != 2 {
			t.Errorf("poisoned image %d of class %d", i, ds.Labels[i])
		}
	}
	if !slices.Equal(got.Data.Images, want.Images) || !slices.Equal(got.Data.Labels, ds.Labels) {
		t.Error("Poison is not Perturb then Apply with labels kept")
	}
	// The perturbation is there under the patch: the patched images differ
	// from patched clean images.
	diff := false
	for _, i := range got.Indices {
		clean := slices.Clone(ds.Image(i))
		tr.Apply(clean)
		diff = diff || !slices.Equal(clean, got.Data.Image(i))
	}
	if !diff {
		t.Error("the poisoned images carry no perturbation")
	}
}
