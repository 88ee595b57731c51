package detect

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat/distuv"
)

func TestAnomalies(t *testing.T) {
	// Median 9.5; deviations 8.5 1.5 0.5 0.5 1.5 2.5, so MAD 1.5.
	an, err := Anomalies([]int{0, 1, 2, 3, 4, 5}, []float64{12, 1, 9, 10, 11, 8}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := 8.5 / (1.4826 * 1.5)
	if an.Median != 9.5 || an.MAD != 1.5 || math.Abs(an.Max-want) > 1e-12 || math.Abs(an.Index[1]-want) > 1e-12 {
		t.Errorf("median %v MAD %v index %v; want 9.5, 1.5, %v", an.Median, an.MAD, an.Max, want)
	}
	if an.Ratio != 1/9.5 {
		t.Errorf("norm ratio %v, want 1/9.5", an.Ratio)
	}
	if !an.Backdoored || an.Target != 1 || !slices.Equal(an.Flagged, []int{1}) || an.Smallest != 1 {
		t.Errorf("flagged %v target %d backdoored %v; want label 1", an.Flagged, an.Target, an.Backdoored)
	}
	// Large norms are outliers too, but not triggers.
	an, _ = Anomalies([]int{0, 1, 2, 3, 4}, []float64{10, 11, 9, 10, 100}, 2)
	if an.Backdoored || len(an.Flagged) != 0 || an.Max > 2 {
		t.Errorf("a large norm flagged: %+v", an)
	}
	// MAD 0: more than half the norms equal.
	an, _ = Anomalies([]int{3, 4, 5, 6}, []float64{5, 5, 5, 1}, 2)
	if an.Max != math.MaxFloat64 || an.Target != 6 || an.Index[0] != 0 {
		t.Errorf("MAD 0: %+v", an)
	}
	if _, err := Anomalies([]int{0, 1}, []float64{1, 2}, 2); err == nil {
		t.Error("two labels accepted")
	}
}

func TestShareVariance(t *testing.T) {
	even := slices.Repeat([]float64{0.1}, 10)
	if v := ShareVariance(even); math.Abs(v) > 1e-18 {
		t.Errorf("even shares: variance %v", v)
	}
	one := make([]float64, 10)
	one[3] = 1
	if v := ShareVariance(one); math.Abs(v-0.09) > 1e-15 {
		t.Errorf("collapse: variance %v, want 0.09", v)
	}
	// One class at s, the rest even: (s − 0.1)²/9; s = 0.4 is the
	// threshold 0.01.
	s := 0.5
	sh := slices.Repeat([]float64{(1 - s) / 9}, 10)
	sh[7] = s
	r := NewVariance().Decide(sh)
	if math.Abs(r.Score-(s-0.1)*(s-0.1)/9) > 1e-15 || !r.Backdoored || r.Target != 7 {
		t.Errorf("share 0.5: %+v", r)
	}
}

func TestGammaCDF(t *testing.T) {
	for _, c := range []struct {
		g    GammaFit
		x    float64
		want float64
	}{
		{GammaFit{Shape: 2, Scale: 1}, 3, 1 - 4*math.Exp(-3)},          // 1 − (1+x)e^−x
		{GammaFit{Shape: 1, Scale: 2}, 1, 1 - math.Exp(-0.5)},          // exponential
		{GammaFit{Shape: 1, Scale: 2, Loc: -1}, 0, 1 - math.Exp(-0.5)}, // shifted
		{GammaFit{Shape: 3, Scale: 0.5}, 1, 1 - 5*math.Exp(-2)},        // 1 − e^−y(1+y+y²/2), y = 2
	} {
		if got := c.g.CDF(c.x); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%+v CDF(%v) = %v, want %v", c.g, c.x, got, c.want)
		}
	}
	// The p-value of the largest of 10: 1 − (1 − e^−5)^10 for a unit
	// exponential.
	g := GammaFit{Shape: 1, Scale: 1}
	if got, want := g.MaxPValue(5, 10), 1-math.Pow(1-math.Exp(-5), 10); math.Abs(got-want) > 1e-14 {
		t.Errorf("p-value %v, want %v", got, want)
	}
	if p := g.MaxPValue(60, 10); !(p > 0 && p < 1e-24) {
		t.Errorf("far tail p-value %v, want about 10·e^−60", p)
	}
	if p := g.MaxPValue(-1, 10); p != 1 {
		t.Errorf("below the support: p-value %v, want 1", p)
	}
}

func TestFitGamma(t *testing.T) {
	// The maximum-likelihood equations: log k − ψ(k) = log mean − mean log,
	// θ = mean/k.
	v := []float64{1, 2, 3, 4, 5}
	g, err := FitGamma(v)
	if err != nil {
		t.Fatal(err)
	}
	s := math.Log(3) - math.Log(120)/5
	if r := math.Log(g.Shape) - mathext.Digamma(g.Shape) - s; math.Abs(r) > 1e-12 || math.Abs(g.Scale*g.Shape-3) > 1e-12 || g.Loc != 0 {
		t.Errorf("fit %+v: likelihood equation residual %v", g, r)
	}
	// The same equation solved independently (Python, bisection, ψ as a
	// central difference of math.lgamma): shape 3.7016438104, scale
	// 0.8104507494.
	if math.Abs(g.Shape-3.7016438104) > 1e-8 || math.Abs(g.Scale-0.8104507494) > 1e-8 {
		t.Errorf("fit %+v, want shape 3.7016438104 scale 0.8104507494", g)
	}
	// A large sample recovers its parameters.
	src := rand.New(rand.NewPCG(1, 2))
	d := distuv.Gamma{Alpha: 2.5, Beta: 1 / 1.7, Src: src}
	big := make([]float64, 20000)
	for i := range big {
		big[i] = d.Rand()
	}
	g, _ = FitGamma(big)
	if math.Abs(g.Shape-2.5) > 0.08 || math.Abs(g.Scale-1.7) > 0.06 {
		t.Errorf("fit of 20000 draws of Gamma(2.5, 1.7): %+v", g)
	}
	// Non-positive values shift the location below the smallest.
	g, err = FitGamma([]float64{-1, 0, 2, 3})
	if err != nil || !(g.Loc < -1) || g.CDF(-1) <= 0 {
		t.Errorf("fit with negatives: %+v, %v", g, err)
	}
	for _, bad := range [][]float64{{1}, {2, 2, 2}, {1, math.NaN()}} {
		if _, err := FitGamma(bad); err == nil {
			t.Errorf("FitGamma(%v) succeeded", bad)
		}
	}
}

func TestEntropy(t *testing.T) {
	if h := entropy([]float32{0, 0, 0, 0}); math.Abs(h-math.Log(4)) > 1e-12 {
		t.Errorf("uniform entropy %v, want ln 4", h)
	}
	if h := entropy([]float32{1000, 0, 0}); h > 1e-12 || math.IsNaN(h) {
		t.Errorf("certain entropy %v, want 0", h)
	}
}

func TestRegistry(t *testing.T) {
	for _, n := range Names() {
		if IsSample(n) {
			if _, err := NewSampler(n, nil); err != nil {
				t.Error(err)
			}
			if _, err := New(n, nil); err == nil || !strings.Contains(err.Error(), "scores samples") {
				t.Errorf("New(%s): %v", n, err)
			}
			continue
		}
		if _, err := New(n, nil); err != nil {
			t.Error(err)
		}
		if _, err := NewSampler(n, nil); err == nil || !strings.Contains(err.Error(), "detects models") {
			t.Errorf("NewSampler(%s): %v", n, err)
		}
	}
	d, err := New("NC", []byte(`{"epochs": 2}`))
	if nc, ok := d.(*NeuralCleanse); err != nil || !ok || nc.Epochs != 2 || nc.BatchSize != NCDefaultBatchSize {
		t.Errorf("nc with epochs 2: %+v, %v", d, err)
	}
	for _, c := range []struct{ name, params, want string }{
		{"neural-cleanse", "", `unknown detection method "neural-cleanse" (known: cd, label, mmbd, model, nc, scan, strip)`},
		{"nc", `{"epochs": 0}`, "nc: 0 epochs"},
		{"nc", `{"epoch": 3}`, `unknown field "epoch"`},
		{"strip", `{"n": 0}`, "strip"},
	} {
		if err := Check(c.name, []byte(c.params)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %q", c.name, c.params, err, c.want)
		}
	}
}

// TestNCDecide pins which test decides Neural Cleanse: the outlier test over
// every label (or three or more given), the gap over an exposure's
// candidates or two labels, nothing for one.
func TestNCDecide(t *testing.T) {
	trs := []*Trigger{{Label: 4, L1: 5, Reached: true}, {Label: 1, L1: 50, Reached: true}, {Label: 2, L1: 52, Reached: true}, {Label: 3, L1: 49, Reached: true}}
	nc := NewNeuralCleanse()
	r, err := nc.Decide(trs)
	if err != nil || r.Anomaly == nil || r.Gap != nil || !r.Decides || !r.Backdoored || r.Target != 4 || r.Score != r.Anomaly.Max {
		t.Errorf("all labels: %+v, %v", r, err)
	}
	nc.Focus([]int{4, 1, 2}, true)
	r, err = nc.Decide(trs[:3])
	if err != nil || r.Gap == nil || r.Anomaly != nil || r.Target != 4 || r.Score != 10 || !r.Backdoored {
		t.Errorf("candidates: %+v, %v", r, err)
	}
	nc.Focus([]int{1, 2}, false)
	if r, err = nc.Decide(trs[1:3]); err != nil || r.Gap == nil || r.Target != 1 || r.Backdoored {
		t.Errorf("two labels: %+v, %v", r, err)
	}
	if r, err = nc.Decide(trs[2:3]); err != nil || r.Decides || r.Target != 2 {
		t.Errorf("one label: %+v, %v", r, err)
	}
}

func TestCandidateGap(t *testing.T) {
	nc := NewNeuralCleanse()
	tr := func(label int, l1 float64, reached bool) *Trigger {
		return &Trigger{Label: label, L1: l1, Reached: reached}
	}
	for _, c := range []struct {
		name   string
		trs    []*Trigger
		target int
		gap    float64
		bd     bool
	}{
		{"backdoor", []*Trigger{tr(3, 45, true), tr(7, 8, true), tr(2, 48, true)}, 7, 45.0 / 8, true},
		{"clean", []*Trigger{tr(2, 80, true), tr(8, 76, true), tr(3, 78, true)}, 8, 78.0 / 76, false},
		{"unreached mask is no trigger", []*Trigger{tr(2, 5, false), tr(8, 60, true), tr(3, 70, true)}, 8, 70.0 / 60, false},
		{"zero mask", []*Trigger{tr(1, 0, true), tr(4, 3, true)}, 1, math.MaxFloat64, true},
	} {
		g, err := nc.Gap(c.trs)
		if err != nil {
			t.Fatal(err)
		}
		if g.Target != c.target || math.Abs(g.Gap-c.gap) > 1e-12 || g.Backdoored != c.bd || len(g.Labels) != len(c.trs) {
			t.Errorf("%s: got target %d gap %g backdoored %v; want %d %g %v", c.name, g.Target, g.Gap, g.Backdoored, c.target, c.gap, c.bd)
		}
	}
	if _, err := nc.Gap([]*Trigger{tr(1, 3, true)}); err == nil {
		t.Error("gap of one trigger: no error")
	}
}

func TestScanPValue(t *testing.T) {
	s := NewScan()
	if p := s.PValue(math.Exp(ScanNullMean)); math.Abs(p-0.5) > 1e-9 {
		t.Errorf("p at the null's centre = %g; want 0.5", p)
	}
	// The calibration models themselves are not flagged, and the
	// backdoored models' ratios of the calibration pool (0.10–0.46) are.
	for _, r := range []float64{0.755, 0.711, 0.709, 0.642, 0.730, 0.814} {
		if p := s.PValue(r); p <= s.Alpha {
			t.Errorf("clean calibration ratio %.3f: p = %.3g ≤ alpha", r, p)
		}
	}
	for _, r := range []float64{0.107, 0.265, 0.462} {
		if p := s.PValue(r); p > s.Alpha {
			t.Errorf("backdoored calibration ratio %.3f: p = %.3g > alpha", r, p)
		}
	}
	prev := 0.0
	for r := 0.05; r < 1.5; r += 0.05 {
		p := s.PValue(r)
		if p < prev {
			t.Fatalf("p not monotone at ratio %.2f", r)
		}
		prev = p
	}
	if s.PValue(0) != 0 {
		t.Error("ratio 0: want p 0")
	}
	bad := NewScan()
	bad.NullStd = 0
	if bad.Validate() == nil {
		t.Error("null std 0 accepted")
	}
}
