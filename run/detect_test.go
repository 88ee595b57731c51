package run

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/detect"
	"ebyd/metrics"
	"ebyd/nn"
)

// The detectors are tested here rather than in package detect because a
// *data.Defense is made only by run (data.NewDefense), never by a defense.

// bandNet is a hand-made linear classifier of 12×12 gray images with a
// planted backdoor: class c answers to the brightness of rows 2c and 2c+1,
// and class 0 also, thirty times as strongly, to the 2×2 patch in the
// bottom-right corner (rows and columns 10–11), which no clean image lights.
type bandNet struct {
	nn.Base
	FC *nn.Linear
}

const (
	bandSide    = 12
	bandClasses = 5
)

func newBandNet() *bandNet {
	m := &bandNet{}
	m.FC = nn.AddChild(&m.Base, "fc", nn.NewLinear(bandSide*bandSide, bandClasses, true, rand.New(rand.NewPCG(1, 1))))
	m = nn.Build(m)
	w := m.FC.Weight.Value.Data
	clear(w)
	clear(m.FC.Bias.Value.Data)
	for c := range bandClasses {
		for r := 2 * c; r < 2*c+2; r++ {
			for col := range bandSide {
				w[c*bandSide*bandSide+r*bandSide+col] = 10.0 / (2 * bandSide)
			}
		}
	}
	for r := 10; r < 12; r++ {
		for col := 10; col < 12; col++ {
			w[r*bandSide+col] = 30.0 / 4
		}
	}
	return m
}

func (m *bandNet) Forward(x *ag.Var) *ag.Var { return m.Out(m.FC.Forward(ag.Flatten(x))) }

// bandData draws n clean images: class c has rows 2c, 2c+1 bright, the
// rest dim noise; nothing lights the trigger patch.
func bandData(n int, seed uint64) *data.Dataset {
	r := rand.New(rand.NewPCG(seed, 0))
	ds := &data.Dataset{Name: "bands", N: n, H: bandSide, W: bandSide, C: 1, Classes: bandClasses,
		Images: make([]uint8, n*bandSide*bandSide), Labels: make([]int, n)}
	for i := range n {
		c := i % bandClasses
		ds.Labels[i] = c
		img := ds.Image(i)
		for p := range img {
			img[p] = uint8(r.IntN(40))
			if row := p / bandSide; row/2 == c && row < 10 {
				img[p] = uint8(180 + r.IntN(60))
			}
		}
	}
	return ds
}

// stampPatch lights the trigger patch of every image of ds.
func stampPatch(ds *data.Dataset) *data.Dataset {
	out := ds.Clone()
	for i := range out.N {
		img := out.Image(i)
		for r := 10; r < 12; r++ {
			for col := 10; col < 12; col++ {
				img[r*bandSide+col] = 255
			}
		}
	}
	return out
}

func bandDefense(t *testing.T) *data.Defense {
	t.Helper()
	def, err := data.NewDefense(bandData(400, 1), 320, 1)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func TestNeuralCleanseRecoversPlantedTrigger(t *testing.T) {
	m, def := newBandNet(), bandDefense(t)
	nc := detect.NewNeuralCleanse()
	nc.Epochs = 10
	trs, err := nc.Recover(context.Background(), m, def, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	an, err := nc.Anomalies(trs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mask norms %.1f, anomaly index %.2f", an.L1, an.Max)
	if !an.Backdoored || an.Target != 0 || !slices.Equal(an.Flagged, []int{0}) {
		t.Fatalf("flagged %v (target %d, anomaly %.2f); want label 0 alone", an.Flagged, an.Target, an.Max)
	}
	tr := trs[0]
	if !tr.Reached || tr.L1 > 8 {
		t.Errorf("label 0: mask L1 %.2f (reached %v); the planted patch has 4 pixels", tr.L1, tr.Reached)
	}
	// The mask's weight sits on the patch, and the pattern there is bright.
	var on float64
	for r := 10; r < 12; r++ {
		for col := 10; col < 12; col++ {
			on += float64(tr.Mask[r*bandSide+col])
			if tr.Pattern[r*bandSide+col] < 0.5 {
				t.Errorf("pattern at (%d, %d) is %.2f; the trigger is white", r, col, tr.Pattern[r*bandSide+col])
			}
		}
	}
	if on < 0.6*tr.L1 {
		t.Errorf("only %.2f of the mask's %.2f lies on the patch", on, tr.L1)
	}
	for _, o := range trs[1:] {
		if o.L1 < 3*tr.L1 {
			t.Errorf("label %d: mask L1 %.2f, not much larger than the target's %.2f", o.Label, o.L1, tr.L1)
		}
	}
	// Targeted recovery gives the same trigger as the full run's.
	one, err := nc.Recover(context.Background(), m, def, []int{0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if one[0].L1 != tr.L1 || !slices.Equal(one[0].Mask, tr.Mask) {
		t.Errorf("targeted NC: L1 %v, full NC %v", one[0].L1, tr.L1)
	}
	if _, err := nc.Recover(context.Background(), m, def, []int{5}, nil); err == nil {
		t.Error("label 5 of a 5-class model accepted")
	}
}

func TestSampleDetectorsShapesAndDeterminism(t *testing.T) {
	m, def := newBandNet(), bandDefense(t)
	clean := bandData(12, 7)
	x := detect.ImagesOf(clean)
	trig := stampPatch(clean)
	x.Pix = append(x.Pix, trig.Images...)
	x.N *= 2
	positive := make([]bool, x.N)
	for i := clean.N; i < x.N; i++ {
		positive[i] = true
	}
	cd := detect.NewCognitiveDistillation()
	cd.Steps, cd.BatchSize = 10, 7 // batches that cut across clean and triggered
	for _, sd := range []struct {
		name string
		d    detect.SampleDetector
	}{{"strip", &detect.STRIP{N: 20, Seed: 3}}, {"cd", cd}} {
		a, err := sd.d.ScoreSamples(context.Background(), m, def, x, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := sd.d.ScoreSamples(context.Background(), m, def, x, nil)
		if len(a) != x.N || !slices.Equal(a, b) {
			t.Errorf("%s: %d scores for %d images, repeat equal %v", sd.name, len(a), x.N, slices.Equal(a, b))
		}
		for i, s := range a {
			if math.IsNaN(s) || math.IsInf(s, 0) {
				t.Errorf("%s: score %d is %v", sd.name, i, s)
			}
		}
		if sd.name == "strip" {
			if auc := metrics.AUROC(a, positive); auc < 0.99 {
				t.Errorf("strip: AUROC %.3f on the planted trigger", auc)
			}
		}
	}
	// Scores do not depend on which batch an image is in.
	cd2 := *cd
	cd2.BatchSize = 24
	a, _ := cd.ScoreSamples(context.Background(), m, def, x, nil)
	b, _ := cd2.ScoreSamples(context.Background(), m, def, x, nil)
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-3*math.Abs(a[i]) {
			t.Errorf("cd: image %d scores %v in batches of 7, %v in one batch", i, a[i], b[i])
		}
	}
	// A model whose output does not fit is an error, not a panic.
	bad := &detect.Images{Pix: make([]uint8, 3*5*5), N: 3, H: 5, W: 5, C: 1}
	if _, err := (&detect.STRIP{N: 2}).ScoreSamples(context.Background(), m, def, bad, nil); err == nil {
		t.Error("strip: images of another size accepted")
	}
}

func TestLabelAndVarianceOnPlantedModel(t *testing.T) {
	m, def := newBandNet(), bandDefense(t)
	r, err := (detect.Label{}).Detect(context.Background(), m, def, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The model classifies clean images right, so its class shares are
	// the defense set's label shares.
	want := make([]float64, bandClasses)
	for _, y := range def.Data().Labels {
		want[y] += 1 / float64(def.Len())
	}
	for c := range want {
		if math.Abs(r.ClassShare[c]-want[c]) > 1e-9 {
			t.Fatalf("class shares %v, want the label shares %v", r.ClassShare, want)
		}
	}
	mr, err := detect.NewVariance().Detect(context.Background(), m, def, nil)
	if err != nil || mr.Backdoored || math.Abs(mr.Score-detect.ShareVariance(want)) > 1e-12 {
		t.Errorf("variance test on clean behaviour: %+v, %v", mr, err)
	}
	// Shift the bias towards class 3: every prediction collapses there.
	m.FC.Bias.Value.Data[3] = 100
	r, _ = (detect.Label{}).Detect(context.Background(), m, def, nil)
	mr, _ = detect.NewVariance().Detect(context.Background(), m, def, nil)
	if r.Target != 3 || *r.Confidence != 1 || !mr.Backdoored || mr.Target != 3 {
		t.Errorf("collapsed model: label %+v, variance %+v", r, mr)
	}
}

func TestMMBDOnPlantedModel(t *testing.T) {
	m, def := newBandNet(), bandDefense(t)
	mm := detect.NewMMBD()
	mm.Steps = 50
	r, err := mm.Run(context.Background(), m, def, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("margins %.3g p %.3g", r.Margins, r.PValue)
	if r.Target != 0 || !r.Backdoored || len(r.Margins) != bandClasses {
		t.Errorf("MMBD: %+v; want target 0", r)
	}
	r2, _ := mm.Run(context.Background(), m, def, nil)
	if !slices.Equal(r.Margins, r2.Margins) || r.PValue != r2.PValue {
		t.Errorf("MMBD repeats differently: %v then %v", r.Margins, r2.Margins)
	}
}

// cleanBandNet is bandNet without its backdoor.
func cleanBandNet() *bandNet {
	m := newBandNet()
	for r := 10; r < 12; r++ {
		for col := 10; col < 12; col++ {
			m.FC.Weight.Value.Data[r*bandSide+col] = 0
		}
	}
	return m
}

func TestScanOnPlantedAndCleanModels(t *testing.T) {
	def := bandDefense(t)
	for _, tc := range []struct {
		name       string
		m          nn.Module
		backdoored bool
	}{{"planted", newBandNet(), true}, {"clean", cleanBandNet(), false}} {
		s := detect.NewScan()
		s.NC.Epochs = 10
		r, err := s.Detect(context.Background(), tc.m, def, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: ratio %.3f, p %.3g, %d rounds, norms %.1f", tc.name, r.Scan.Ratio, r.Scan.PValue, r.Scan.Rounds, r.Scan.L1)
		if r.Backdoored != tc.backdoored || (tc.backdoored && r.Target != 0) {
			t.Errorf("%s: backdoored %v, target %d; want %v (target 0)", tc.name, r.Backdoored, r.Target, tc.backdoored)
		}
		if tc.backdoored && r.Scan.Rounds != 1 {
			t.Errorf("%s: %d rounds for clear evidence; want 1", tc.name, r.Scan.Rounds)
		}
		if len(r.Triggers) != bandClasses || r.Confidence == nil {
			t.Errorf("%s: %d triggers, confidence %v", tc.name, len(r.Triggers), r.Confidence)
		}
	}

	// Ambiguous evidence (every p between Alpha and Grey) runs every round.
	s := detect.NewScan()
	s.NC.Epochs, s.Alpha, s.Grey, s.Rounds = 2, 1e-12, 0.999999, 2
	r, err := s.Detect(context.Background(), cleanBandNet(), def, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Scan.Rounds != 2 || !r.Scan.Ambiguous {
		t.Errorf("ambiguous scan ran %d rounds (ambiguous %v); want 2, still ambiguous", r.Scan.Rounds, r.Scan.Ambiguous)
	}
}
