package detect

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/fit"
	"ebyd/nn"
	"ebyd/tensor"
)

// LabelDetector names the backdoor's target label of a model (usually an
// exposed one), with a score for every class.
type LabelDetector interface {
	DetectLabel(ctx context.Context, m nn.Module, def *data.Defense) (*LabelResult, error)
}

// ModelDetector decides whether a model is backdoored, with a score that
// grows with the evidence (for AUROC over a pool of models).
type ModelDetector interface {
	DetectModel(ctx context.Context, m nn.Module, def *data.Defense) (*ModelResult, error)
}

// SampleDetector scores inputs: the higher the score, the more the input
// looks like a triggered one. Inputs carry no labels.
type SampleDetector interface {
	ScoreSamples(ctx context.Context, m nn.Module, def *data.Defense, x *Images) ([]float64, error)
}

// TriggerRecoverer reverse-engineers a trigger (mask and pattern) that
// sends clean images to each of the given labels.
type TriggerRecoverer interface {
	Recover(ctx context.Context, m nn.Module, def *data.Defense, labels []int) ([]*Trigger, error)
}

// LabelResult is a label detector's answer.
type LabelResult struct {
	Target int `json:"predicted_target"`
	// Confidence is the target's score (for Label, its class share).
	Confidence float64   `json:"confidence"`
	Scores     []float64 `json:"class_scores"` // one per class
}

// ModelResult is a model detector's answer.
type ModelResult struct {
	Score      float64 `json:"score"` // larger means more evidence of a backdoor
	Threshold  float64 `json:"threshold"`
	Backdoored bool    `json:"backdoored"`
	// Target is the label the evidence points at, −1 when none.
	Target int `json:"predicted_target"`
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

// Kind is what a detection method answers.
type Kind string

const (
	KindLabel   Kind = "label"   // a LabelDetector
	KindModel   Kind = "model"   // a ModelDetector
	KindTrigger Kind = "trigger" // a TriggerRecoverer (and a ModelDetector)
	KindSample  Kind = "sample"  // a SampleDetector
)

// methods lists every detection method by name with its kind.
var methods = map[string]Kind{
	"label": KindLabel,
	"model": KindModel,
	"nc":    KindTrigger,
	"mmbd":  KindModel,
	"strip": KindSample,
	"cd":    KindSample,
}

// Names lists the detection methods, sorted.
func Names() []string {
	names := make([]string, 0, len(methods))
	for n := range methods {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// KindOf returns the kind of the named method, or an error naming the
// known ones.
func KindOf(name string) (Kind, error) {
	k, ok := methods[name]
	if !ok {
		return "", fmt.Errorf("unknown detection method %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return k, nil
}

// New returns the named method with its default settings: a *Label,
// *Variance, *NeuralCleanse, *MMBD, *STRIP or *CognitiveDistillation.
func New(name string) (any, error) {
	if _, err := KindOf(name); err != nil {
		return nil, err
	}
	switch name {
	case "label":
		return &Label{}, nil
	case "model":
		return NewVariance(), nil
	case "nc":
		return NewNeuralCleanse(), nil
	case "mmbd":
		return NewMMBD(), nil
	case "strip":
		return NewSTRIP(), nil
	default:
		return NewCognitiveDistillation(), nil
	}
}
