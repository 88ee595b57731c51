package detect

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/fit"
	"ebyd/internal/registry"
	"ebyd/nn"
	"ebyd/tensor"
)

// A Detector examines a model (the suspect, or an exposed model derived
// from it) with the defender's clean images and answers with a Result that
// carries its own decision. progress may be nil.
type Detector interface {
	Detect(ctx context.Context, m nn.Module, def *data.Defense, progress Progress) (*Result, error)
}

// A Focuser is a Detector that can be told which labels to examine: a few
// candidate targets an exposure ranked first, or labels a user chose.
// candidates says the labels are an exposure's, so that the method decides
// by its targeted rule.
type Focuser interface {
	Detector
	Focus(labels []int, candidates bool)
}

// SampleDetector scores inputs: the higher the score, the more the input
// looks like a triggered one. Inputs carry no labels.
type SampleDetector interface {
	ScoreSamples(ctx context.Context, m nn.Module, def *data.Defense, x *Images, progress Progress) ([]float64, error)
}

// Result is a detector's answer about one model. Target is the label the
// evidence points at (−1 when none); when Decides, Backdoored is the
// decision, Score (larger means more evidence of a backdoor, for AUROC over
// a pool of models) against Threshold.
type Result struct {
	Method     string  `json:"method"`
	Target     int     `json:"predicted_target"`
	Decides    bool    `json:"decides"`
	Score      float64 `json:"score"`
	Threshold  float64 `json:"threshold"`
	Backdoored bool    `json:"backdoored"`

	// Confidence, for label, is the target's class share; for scan, 1 − p.
	Confidence *float64 `json:"confidence,omitempty"`
	// ClassShare is the fraction of the defense images the model assigns
	// to each class, for the methods that read it (label, model).
	ClassShare []float64 `json:"class_share,omitempty"`

	// The methods' evidence: Neural Cleanse's triggers and the test it
	// decided by (Anomaly over all or given labels, Gap over an exposure's
	// candidates), and MMBD's statistics.
	Triggers []*Trigger    `json:"triggers,omitempty"`
	Anomaly  *Anomaly      `json:"anomaly,omitempty"`
	Gap      *CandidateGap `json:"gap,omitempty"`
	MMBD     *MMBDResult   `json:"mmbd,omitempty"`
	Scan     *ScanResult   `json:"scan,omitempty"`
}

// decided is a Result that decides.
func decided(method string, target int, score, threshold float64, backdoored bool) *Result {
	return &Result{Method: method, Target: target, Decides: true, Score: score, Threshold: threshold, Backdoored: backdoored}
}

// Images are unlabelled images to score, uint8 pixels in HWC order as
// data.Dataset holds them (N×H×W×C bytes).
type Images struct {
	Pix        []uint8
	N, H, W, C int
}

// ImagesOf copies the pixels of ds without its labels.
func ImagesOf(ds *data.Dataset) *Images {
	return &Images{Pix: slices.Clone(ds.Images), N: ds.N, H: ds.H, W: ds.W, C: ds.C}
}

func (x *Images) size() int { return x.H * x.W * x.C }

func (x *Images) validate() error {
	switch {
	case x == nil:
		return fmt.Errorf("detect: no images to score")
	case x.N < 0 || x.H <= 0 || x.W <= 0 || x.C <= 0:
		return fmt.Errorf("detect: bad image shape N=%d H=%d W=%d C=%d", x.N, x.H, x.W, x.C)
	case len(x.Pix) != x.N*x.size():
		return fmt.Errorf("detect: %d bytes for %d images of %d×%d×%d", len(x.Pix), x.N, x.H, x.W, x.C)
	}
	return nil
}

// Progress, when not nil, is told how far a long computation is: done units
// of total, and a short status.
type Progress func(done, total int, status string)

func (p Progress) report(done, total int, status string) {
	if p != nil {
		p(done, total, status)
	}
}

// norm is a dataset's per-channel normalisation on the [0,1] pixel scale.
type norm struct{ mean, std []float32 }

func normOf(ds *data.Dataset) (norm, error) {
	n := norm{mean: make([]float32, ds.C), std: make([]float32, ds.C)}
	for c := range ds.C {
		n.mean[c], n.std[c] = 0, 1
		if len(ds.Mean) == ds.C {
			n.mean[c], n.std[c] = ds.Mean[c], ds.Std[c]
		} else if len(ds.Mean) != 0 {
			return n, fmt.Errorf("detect: %d means for %d channels", len(ds.Mean), ds.C)
		}
		if !(n.std[c] > 0) {
			return n, fmt.Errorf("detect: channel %d has deviation %g", c, n.std[c])
		}
	}
	return n, nil
}

// batch writes images lo..hi of x into a normalised NCHW tensor.
func (n norm) batch(x *Images, lo, hi int) *tensor.Tensor {
	t := tensor.New(hi-lo, x.C, x.H, x.W)
	hw, size := x.H*x.W, x.size()
	for k := range hi - lo {
		img := x.Pix[(lo+k)*size : (lo+k+1)*size]
		for p := range hw {
			for c := range x.C {
				t.Data[(k*x.C+c)*hw+p] = (float32(img[p*x.C+c])/255 - n.mean[c]) / n.std[c]
			}
		}
	}
	return t
}

// affine returns the per-channel scale 1/std and shift −mean/std as
// [1, C, 1, 1] constants: norm(v) = v·scale + shift for v on the [0,1] scale.
func (n norm) affine() (scale, shift *ag.Var) {
	c := len(n.mean)
	s, b := tensor.New(1, c, 1, 1), tensor.New(1, c, 1, 1)
	for i := range c {
		s.Data[i] = 1 / n.std[i]
		b.Data[i] = -n.mean[i] / n.std[i]
	}
	return ag.Const(s), ag.Const(b)
}

// prepared puts m in evaluation mode and stops gradients into its
// parameters (only inputs are optimised here); the returned function undoes
// both.
func prepared(m nn.Module) (restore func()) {
	var undo []func()
	if t, ok := m.(interface{ Training() bool }); ok && t.Training() {
		nn.SetTraining(m, false)
		undo = append(undo, func() { nn.SetTraining(m, true) })
	}
	for _, p := range nn.Params(m) {
		if p.RequiresGrad() {
			p.SetRequiresGrad(false)
			undo = append(undo, func() { p.SetRequiresGrad(true) })
		}
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}

// forward runs m on x without a graph; a model that does not fit gives an
// error, not a panic.
func forward(m nn.Module, x *tensor.Tensor, classes int) (*tensor.Tensor, error) {
	var out *tensor.Tensor
	var err error
	ag.NoGrad(func() {
		err = nn.Recover(func() {
			out = m.Forward(ag.Const(x)).Value
			checkLogits(out.Shape, x.Shape[0], classes)
		})
	})
	return out, err
}

// checkLogits panics with an nn.ShapeError unless shape is [n, classes]
// (classes 0: any).
func checkLogits(shape []int, n, classes int) {
	if len(shape) != 2 || shape[0] != n || (classes > 0 && shape[1] != classes) {
		want := fmt.Sprintf("[%d, %d]", n, classes)
		if classes <= 0 {
			want = fmt.Sprintf("[%d, K]", n)
		}
		panic(nn.ShapeError{Msg: fmt.Sprintf("returns logits of shape %v for a batch of %d images; want %s", shape, n, want)})
	}
}

// ClassShare is the fraction of the defense images that m assigns to each
// class: the prediction distribution EBYD reads an exposed model by.
func ClassShare(ctx context.Context, m nn.Module, def *data.Defense) ([]float64, error) {
	if def == nil || def.Len() == 0 {
		return nil, fmt.Errorf("detect: no defense images")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ds := def.Data()
	pred, err := fit.Predict(m, ds, fit.EvalBatch)
	if err != nil {
		return nil, err
	}
	share := make([]float64, ds.Classes)
	for _, p := range pred {
		share[p]++
	}
	for c := range share {
		share[c] /= float64(ds.N)
	}
	return share, nil
}

// argmax is the first index of the largest value (−1 for none).
func argmax(v []float64) int {
	best := -1
	for i, x := range v {
		if best < 0 || x > v[best] {
			best = i
		}
	}
	return best
}

// median of v (not modified); NaN for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return nan()
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// checkLabels checks that labels are distinct classes of 0..classes-1.
func checkLabels(labels []int, classes int) error {
	seen := map[int]bool{}
	for _, l := range labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("label %d: the model has classes 0..%d", l, classes-1)
		}
		if seen[l] {
			return fmt.Errorf("label %d given twice", l)
		}
		seen[l] = true
	}
	return nil
}

// The methods, by name: detectors of models and detectors of samples.
var (
	detectors = registry.New[Detector]("detection method", validate[Detector])
	samplers  = registry.New[SampleDetector]("sample detection method", validate[SampleDetector])
)

// register adds a model detector; each method's file registers itself.
func register(name string, f func() Detector) { detectors.Add(name, f) }

// registerSampler adds a sample detector.
func registerSampler(name string, f func() SampleDetector) { samplers.Add(name, f) }

// validate runs a method's Validate, when it has one.
func validate[T any](m T) error {
	if v, ok := any(m).(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

// Names lists every detection method, sorted.
func Names() []string {
	names := append(detectors.Names(), samplers.Names()...)
	slices.Sort(names)
	return names
}

// IsSample reports whether the named method scores samples (NewSampler)
// rather than models (New).
func IsSample(name string) bool { return slices.Contains(samplers.Names(), strings.ToLower(name)) }

// New returns the named model detector with its defaults, overridden by
// params (a JSON object of some of its fields).
func New(name string, params json.RawMessage) (Detector, error) {
	if IsSample(name) {
		return nil, fmt.Errorf("%s scores samples, not models", name)
	}
	if !slices.Contains(Names(), strings.ToLower(name)) {
		return nil, unknown(name)
	}
	return detectors.Make(name, params)
}

// NewSampler returns the named sample detector, as New does.
func NewSampler(name string, params json.RawMessage) (SampleDetector, error) {
	if !IsSample(name) {
		if slices.Contains(Names(), strings.ToLower(name)) {
			return nil, fmt.Errorf("%s detects models, not samples", name)
		}
		return nil, unknown(name)
	}
	return samplers.Make(name, params)
}

// Check reports whether name is a method and params suit it.
func Check(name string, params json.RawMessage) error {
	if IsSample(name) {
		_, err := NewSampler(name, params)
		return err
	}
	_, err := New(name, params)
	return err
}

func unknown(name string) error {
	return fmt.Errorf("unknown detection method %q (known: %s)", name, strings.Join(Names(), ", "))
}
