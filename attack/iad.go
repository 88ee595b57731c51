package attack

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	ag "ebyd/autograd"
	"ebyd/checkpoint"
	"ebyd/data"
	"ebyd/fit"
	"ebyd/metrics"
	"ebyd/nn"
	"ebyd/optim"
	"ebyd/tensor"
)

// IAD is the input-aware dynamic backdoor of Nguyen and Tran, "Input-Aware
// Dynamic Backdoor Attack" (NeurIPS 2020), as their release
// (VinAIResearch/input-aware-backdoor-attack-release, train.py) trains it and
// the EBYD seed stamps it (dynamicTrigger). Each image gets its own trigger:
// a pattern generator G maps the normalised image x̂ to a pattern p = G(x̂) in
// [0, 1] with the image's channels, a mask generator M maps it to a
// one-channel mask m = threshold(M(x̂)), and the triggered image is
//
//	x_bd = x + (p − x)·m
//
// on the [0, 1] scale (the release blends the normalised image with the
// normalised pattern, which is the same image). Both generators are the
// release's encoder–decoder (iadnet.go): channel width 16 and 2 down/up steps
// for one-channel images (MNIST), 32 and 3 for RGB; their outputs are
// tanh(z)/(2+1e-7) + 0.5 and the mask threshold is tanh(20z − 10)/(2+1e-7) + 0.5.
//
// IAD is a Learner: run calls Fit, which trains the classifier and the
// generators together in two stages, as the release does.
//
//  1. Mask: M alone, MaskEpochs epochs of Adam (LRM, betas Beta1, Beta2;
//     the rate × 0.1 after 40% and again after 80% of the steps, the
//     release's milestones 10 and 20 of 25 epochs) on pairs of batches
//     (x1, x2) in two independent orders, minimising
//     LambdaNorm·mean(relu(m1 − MaskDensity)) + LambdaDiv·mean(‖x1 − x2‖ / (‖m1 − m2‖ + 1e-7)),
//     where ‖·‖ is the root mean square over an image. The first term pulls
//     every mask value down to MaskDensity, the second keeps the masks of
//     different images apart; their balance sets how much of an image the
//     mask covers (on MNIST after the default mask stage, about 4% of the
//     pixels; with LambdaNorm 10, about 12%).
//  2. Joint: M frozen (evaluation mode), the classifier and G trained
//     together for FitConfig.Epochs epochs. In every batch a share
//     Poisoning.Rate of the images (the paper's backdoor probability ρ_b,
//     p_attack) get their own trigger and the label of the poisoning mode,
//     a share CrossRate (ρ_c, p_cross) get the pattern and mask that G and
//     M make for another training image (the partner, drawn from a second,
//     independently shuffled pass over the data) and keep their label, and
//     the rest stay clean. The loss is the cross-entropy on the whole batch
//     plus LambdaDiv·mean(‖x − x'‖ / (‖G(x) − G(x')‖ + 1e-7)) over the
//     pairs of triggered and cross images (patterns normalised as the
//     images). The classifier steps with FitConfig's optimiser and schedule,
//     G with Adam (LRG, Beta1, Beta2, constant rate). As in the release
//     (and BackdoorBench's port), G's gradients are never zeroed in this
//     stage: only the classifier's optimiser calls zero_grad, so G steps on
//     the running sum of all its gradients so far. This reads like an
//     oversight, but it is how the published IAD models were trained. (In
//     one 3-epoch MNIST run, zeroing them every step gave 87% ASR against
//     95%; the seed alone moves such runs by as much.)
//
// After Fit (or SetState) Apply stamps images with the trained generators in
// evaluation mode. The triggered image is rounded to the nearest byte (half
// up, as torchvision.utils.save_image), one image at a time, so that an
// image's bytes never depend on the others stamped with it.
//
// Mean and Std are the normalisation of the classifier's inputs, which the
// generators see too; Fit records the training set's. A trigger rebuilt from
// the parameters recorded after Fit, then given the saved state (SetState),
// stamps exactly the same bytes. Before Fit or SetState the generators hold
// their seeded initial weights: Apply then stamps a deterministic but
// untrained trigger, and Ready reports false.
//
// Departures from the release, all for a 2-core CPU or for clarity:
//   - Mask stage: the release trains M for 25 epochs on the whole training
//     set; here MaskEpochs (default 2) epochs on a seeded random subset of
//     MaskSubset images (default 10000; 0 = all), with the learning-rate
//     milestones at the same fractions of the stage.
//   - The release backdoors int(ρ·B) images of every batch of B (none
//     when ρ·B < 1); here the counts carry their fractions over from batch
//     to batch, so that each epoch triggers ρ of the images whatever the
//     batch size. The diversity term pairs the first min(triggered, cross)
//     images of each kind (the release needs the two counts equal).
//   - The release's classifier recipe (SGD 0.01, momentum 0.9, weight decay
//     5e-4, 600 epochs, × 0.1 at epochs 100, 200, 300, 400) is replaced by
//     FitConfig's. The release decays G's rate at epochs 200, 300, 400 and
//     500; runs here are a few epochs long and keep it constant (the same
//     decay at the same fractions of a 3-epoch MNIST run froze G early and
//     gave 91% ASR against 95%).
//   - The release's mask loss multiplies the diversity term by LambdaDiv
//     twice (λ²); here once, as the paper writes it (the same at the
//     default 1).
//   - The root mean squares in the diversity terms are √(mean + 1e-12)
//     rather than √mean, so that two identical masks or patterns do not
//     send an infinite gradient (√ at 0); the loss values are unchanged to
//     float32 precision.
//   - Clean-label poisoning is refused: IAD relabels its triggered images
//     (all2one or all2all).
//
// Randomness: the generators' initial weights, the mask-stage subset and
// batch orders, and the partner order of the joint stage come from
// Poisoning.Seed; the classifier's batch order (and augmentation) from
// FitConfig.Seed.
type IAD struct {
	ChannelInit int     `json:"channel_init"` // generator width; 0: 16 for 1 channel, 32 for RGB
	Steps       int     `json:"steps"`        // down/up steps; 0: 2 for 1 channel, 3 for RGB
	CrossRate   float64 `json:"cross_rate"`   // p_cross, share of each batch with a cross trigger
	MaskDensity float64 `json:"mask_density"`
	LambdaDiv   float64 `json:"lambda_div"`
	LambdaNorm  float64 `json:"lambda_norm"`
	LRG         float64 `json:"lr_g"` // Adam rate of the pattern generator
	LRM         float64 `json:"lr_m"` // Adam rate of the mask generator
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	MaskEpochs  int     `json:"mask_epochs"`
	MaskSubset  int     `json:"mask_subset"` // images per mask epoch; 0: the whole training set

	// Mean and Std (per channel, [0, 1] scale) normalise the generators'
	// inputs as the classifier's; Fit sets them from the training set.
	Mean []float32 `json:"mean,omitempty"`
	Std  []float32 `json:"std,omitempty"`

	s         Shape
	g, m      *iadGenerator
	mean, std []float32 // Mean and Std, or 0 and 1 when not set
	ready     bool
}

func init() { register("iad", func() Trigger { return NewIAD() }) }

// NewIAD returns the attack with the release's hyper-parameters (config.py)
// and this package's mask-stage budget.
func NewIAD() *IAD {
	return &IAD{
		CrossRate: 0.1, MaskDensity: 0.032, LambdaDiv: 1, LambdaNorm: 100,
		LRG: 0.01, LRM: 0.01, Beta1: 0.5, Beta2: 0.9,
		MaskEpochs: 2, MaskSubset: 10000,
	}
}

// Seeds of the generators' initial weights before Fit, and the streams drawn
// from Poisoning.Seed.
const (
	iadInitSeed       = 0x696164     // "iad"
	streamIADG        = 0x6961642d67 // "iad-g"
	streamIADM        = 0x6961642d6d // "iad-m"
	streamIADSubset   = 0x6961642d73 // "iad-s"
	streamIADMask1    = 0x6961642d31 // "iad-1"
	streamIADMask2    = 0x6961642d32 // "iad-2"
	streamIADPartners = 0x6961642d70 // "iad-p"
)

// Prepare implements Trigger: it checks the parameters against the image
// shape and builds both generators with their initial weights.
func (t *IAD) Prepare(s Shape) error {
	if t.ChannelInit == 0 {
		t.ChannelInit = 32
		if s.C == 1 {
			t.ChannelInit = 16
		}
	}
	if t.Steps == 0 {
		t.Steps = 3
		if s.C == 1 {
			t.Steps = 2
		}
	}
	f := 1 << min(t.Steps, 30)
	switch {
	case t.ChannelInit < 1:
		return fmt.Errorf("channel_init %d: must be positive", t.ChannelInit)
	case t.Steps < 2 || t.Steps > 8:
		return fmt.Errorf("steps %d: must be in 2..8", t.Steps)
	case s.H%f != 0 || s.W%f != 0:
		return fmt.Errorf("%d steps halve the image %d times, so its sides must be multiples of %d; the images are %d×%d (use fewer steps)",
			t.Steps, t.Steps, f, s.H, s.W)
	case !(t.CrossRate >= 0 && t.CrossRate < 1):
		return fmt.Errorf("cross_rate %g: must be in [0, 1)", t.CrossRate)
	case !(t.MaskDensity >= 0 && t.MaskDensity <= 1):
		return fmt.Errorf("mask_density %g: must be in [0, 1]", t.MaskDensity)
	case !(t.LambdaDiv >= 0) || !(t.LambdaNorm >= 0) || math.IsInf(t.LambdaDiv, 0) || math.IsInf(t.LambdaNorm, 0):
		return fmt.Errorf("lambda_div %g and lambda_norm %g: must be finite and not negative", t.LambdaDiv, t.LambdaNorm)
	case !(t.LRG > 0) || !(t.LRM > 0) || math.IsInf(t.LRG, 0) || math.IsInf(t.LRM, 0):
		return fmt.Errorf("lr_g %g and lr_m %g: must be positive", t.LRG, t.LRM)
	case !(t.Beta1 >= 0 && t.Beta1 < 1) || !(t.Beta2 >= 0 && t.Beta2 < 1):
		return fmt.Errorf("beta1 %g and beta2 %g: must be in [0, 1)", t.Beta1, t.Beta2)
	case t.MaskEpochs < 0 || t.MaskSubset < 0:
		return fmt.Errorf("mask_epochs %d and mask_subset %d: must not be negative", t.MaskEpochs, t.MaskSubset)
	case len(t.Mean) != len(t.Std):
		return fmt.Errorf("mean has %d values and std %d", len(t.Mean), len(t.Std))
	case len(t.Mean) != 0 && len(t.Mean) != s.C:
		return fmt.Errorf("mean and std have %d values for images of %d channels", len(t.Mean), s.C)
	}
	for c, v := range t.Std {
		if !(v > 0) || math.IsInf(float64(v), 0) || math.IsNaN(float64(t.Mean[c])) || math.IsInf(float64(t.Mean[c]), 0) {
			return fmt.Errorf("channel %d: mean %g, std %g: std must be positive and both finite", c, t.Mean[c], v)
		}
	}
	t.s = s
	t.mean, t.std = iadNormalisation(t.Mean, t.Std, s.C)
	t.initGenerators(iadInitSeed)
	t.ready = false
	return nil
}

// iadNormalisation returns mean and std, or 0 and 1 per channel when not set.
func iadNormalisation(mean, std []float32, c int) ([]float32, []float32) {
	if len(mean) == c {
		return mean, std
	}
	m, s := make([]float32, c), make([]float32, c)
	for i := range s {
		s[i] = 1
	}
	return m, s
}

// initGenerators gives G and M fresh initial weights drawn from seed.
func (t *IAD) initGenerators(seed uint64) {
	t.g = newIADGenerator(t.s.C, t.s.C, t.ChannelInit, t.Steps, rand.New(rand.NewPCG(seed, streamIADG)))
	t.m = newIADGenerator(t.s.C, 1, t.ChannelInit, t.Steps, rand.New(rand.NewPCG(seed, streamIADM)))
	nn.SetTraining(t.g, false)
	nn.SetTraining(t.m, false)
}

// Ready reports whether the generators hold trained weights (Fit or SetState
// has run since the last Prepare).
func (t *IAD) Ready() bool { return t.ready }

// Apply implements Trigger.
func (t *IAD) Apply(img []uint8) { t.ApplyBatch(img) }

// ApplyBatch implements BatchApplier. Images go through the generators one at
// a time: a batched convolution may round an image's values differently
// depending on its neighbours, and a stamped image must not depend on them.
func (t *IAD) ApplyBatch(imgs []uint8) {
	size := t.s.Size()
	if size == 0 || len(imgs)%size != 0 {
		panic(fmt.Sprintf("attack: iad: %d bytes are not whole %v images (Prepare first)", len(imgs), t.s))
	}
	ag.NoGrad(func() {
		x := tensor.New(1, t.s.C, t.s.H, t.s.W)
		for i := 0; i < len(imgs); i += size {
			t.stamp(imgs[i:i+size], x)
		}
	})
}

// stamp triggers one HWC image in place, using x as its input buffer.
func (t *IAD) stamp(img []uint8, x *tensor.Tensor) {
	s := t.s
	hw := s.H * s.W
	for p := range hw {
		for c := range s.C {
			x.Data[c*hw+p] = (float32(img[p*s.C+c])/255 - t.mean[c]) / t.std[c]
		}
	}
	in := ag.Const(x)
	pat := t.g.Forward(in).Value.Data
	mask := iadThreshold(t.m.Forward(in)).Value.Data
	for p := range hw {
		m := mask[p]
		for c := range s.C {
			v := float32(img[p*s.C+c]) / 255
			v += float32((pat[c*hw+p] - v) * m)
			img[p*s.C+c] = iadToByte(v)
		}
	}
}

// iadToByte rounds v on the [0, 1] scale to the nearest byte, halves up,
// clamping to [0, 255].
func iadToByte(v float32) uint8 {
	b := math.Floor(float64(v)*255 + 0.5)
	return uint8(min(max(b, 0), 255))
}

// StateFile implements Stateful.
func (t *IAD) StateFile() string { return "trigger.safetensors" }

// iadStateFormat tags the state files of this attack.
const iadStateFormat = "ebyd-iad/1"

// State implements Stateful: both generators' weights and BatchNorm
// statistics as one safetensors file, G's under "netG." and M's under
// "netM." (the keys of the release's checkpoint), with PyTorch's names and
// dtypes.
func (t *IAD) State() ([]byte, error) {
	if !t.ready {
		return nil, errors.New("iad: no trained generators to save (Fit first)")
	}
	sd := &checkpoint.StateDict{}
	for _, net := range []struct {
		prefix string
		m      nn.Module
	}{{"netG.", t.g}, {"netM.", t.m}} {
		for _, e := range nn.StateDict(net.m) {
			dt := checkpoint.F32
			if strings.HasSuffix(e.Name, "num_batches_tracked") {
				dt = checkpoint.I64
			}
			sd.Entries = append(sd.Entries, checkpoint.Entry{Name: net.prefix + e.Name, DType: dt, Tensor: e.Tensor})
		}
	}
	meta := map[string]string{
		"format":       iadStateFormat,
		"channel_init": strconv.Itoa(t.ChannelInit),
		"steps":        strconv.Itoa(t.Steps),
		"shape":        t.s.String(),
	}
	return iadTempFile(func(path string) ([]byte, error) {
		if err := checkpoint.WriteSafetensors(path, sd, meta); err != nil {
			return nil, err
		}
		return os.ReadFile(path)
	})
}

// SetState implements Stateful: it loads what State saved into the
// generators built by Prepare. The parameters must be those recorded after
// Fit (with Mean and Std).
func (t *IAD) SetState(b []byte) error {
	if t.g == nil {
		return errors.New("iad: SetState before Prepare")
	}
	if len(t.Mean) == 0 {
		return errors.New("iad: the parameters have no mean and std: rebuild the trigger from the parameters recorded after Fit")
	}
	sd, err := iadTempFile(func(path string) (*checkpoint.StateDict, error) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
		sd, meta, err := checkpoint.ReadSafetensors(path)
		if err != nil {
			return nil, err
		}
		if meta["format"] != iadStateFormat {
			return nil, fmt.Errorf("not an IAD trigger state (format %q, want %q)", meta["format"], iadStateFormat)
		}
		return sd, nil
	})
	if err != nil {
		return fmt.Errorf("iad: trigger state: %w", err)
	}
	parts := map[string]map[string]*tensor.Tensor{"netG.": {}, "netM.": {}}
	for _, e := range sd.Entries {
		prefix, _, _ := strings.Cut(e.Name, ".")
		part, ok := parts[prefix+"."]
		if !ok {
			return fmt.Errorf("iad: trigger state: unexpected tensor %q (want netG.* and netM.*)", e.Name)
		}
		if e.Tensor.HasNaN() {
			return fmt.Errorf("iad: trigger state: tensor %q holds NaN or infinite values", e.Name)
		}
		part[strings.TrimPrefix(e.Name, prefix+".")] = e.Tensor
	}
	// Load into fresh copies, so that a failure leaves the trigger as it was.
	g := newIADGenerator(t.s.C, t.s.C, t.ChannelInit, t.Steps, rand.New(rand.NewPCG(0, 0)))
	m := newIADGenerator(t.s.C, 1, t.ChannelInit, t.Steps, rand.New(rand.NewPCG(0, 0)))
	if err := nn.LoadStateDict(g, parts["netG."]); err != nil {
		return fmt.Errorf("iad: trigger state does not fit a %d-step generator of width %d for %v images (netG): %w", t.Steps, t.ChannelInit, t.s, err)
	}
	if err := nn.LoadStateDict(m, parts["netM."]); err != nil {
		return fmt.Errorf("iad: trigger state does not fit a %d-step generator of width %d for %v images (netM): %w", t.Steps, t.ChannelInit, t.s, err)
	}
	nn.SetTraining(g, false)
	nn.SetTraining(m, false)
	t.g, t.m, t.ready = g, m, true
	return nil
}

// iadTempFile runs fn with the path of a fresh temporary file, removed
// afterwards (checkpoint reads and writes files, the state is bytes).
func iadTempFile[T any](fn func(path string) (T, error)) (T, error) {
	var zero T
	f, err := os.CreateTemp("", "ebyd-iad-*.safetensors")
	if err != nil {
		return zero, err
	}
	path := f.Name()
	defer os.Remove(path)
	if err := f.Close(); err != nil {
		return zero, err
	}
	return fn(path)
}

// Fit implements Learner: the two training stages described on IAD.
func (t *IAD) Fit(ctx context.Context, model nn.Module, train *data.Dataset, p Poisoning, cfg FitConfig,
	report func(done, total int, status string)) error {
	if err := p.Validate(train.Classes); err != nil {
		return err
	}
	switch {
	case t.g == nil:
		return errors.New("iad: Fit before Prepare")
	case p.Mode == CleanLabel:
		return errors.New("iad: the input-aware attack relabels the images it triggers; use all2one or all2all, not clean-label")
	case p.Rate+t.CrossRate > 1:
		return fmt.Errorf("iad: poison rate %g plus cross_rate %g exceed 1", p.Rate, t.CrossRate)
	case train.H != t.s.H || train.W != t.s.W || train.C != t.s.C:
		return fmt.Errorf("iad: the trigger was prepared for %v images but the training set's are %d×%d×%d", t.s, train.H, train.W, train.C)
	case train.N < 2:
		return fmt.Errorf("iad: %d training images; need at least 2", train.N)
	case cfg.Epochs < 1 || cfg.BatchSize < 2:
		return fmt.Errorf("iad: %d epochs of batch %d: need at least 1 epoch and batches of 2", cfg.Epochs, cfg.BatchSize)
	case !(cfg.LR > 0):
		return fmt.Errorf("iad: learning rate %g: must be positive", cfg.LR)
	case cfg.Optimizer != "sgd" && cfg.Optimizer != "adam":
		return fmt.Errorf("iad: unknown optimizer %q (known: adam, sgd)", cfg.Optimizer)
	case cfg.Schedule != "" && cfg.Schedule != "constant" && cfg.Schedule != "cosine":
		return fmt.Errorf("iad: unknown schedule %q (known: constant, cosine)", cfg.Schedule)
	}
	// The generators see the images normalised as the classifier does. A
	// Fit that fails leaves the trigger untrained (Ready false).
	if len(train.Mean) == train.C && len(train.Std) == train.C {
		t.Mean, t.Std = append([]float32(nil), train.Mean...), append([]float32(nil), train.Std...)
	} else {
		t.Mean, t.Std = iadNormalisation(nil, nil, train.C)
	}
	t.mean, t.std = t.Mean, t.Std
	t.ready = false
	t.initGenerators(p.Seed)

	f := &iadFit{t: t, model: model, train: train, p: p, cfg: cfg, ctx: ctx, report: report,
		aug: data.Augment{CropPad: cfg.CropPad, Flip: cfg.Flip}}
	f.maskSet = train
	if t.MaskSubset > 0 && t.MaskSubset < train.N {
		f.maskSet = train.Subset(data.RandomSubset(train.N, t.MaskSubset, p.Seed^streamIADSubset))
	}
	f.maskSteps = t.MaskEpochs * (&data.Loader{Data: f.maskSet, BatchSize: cfg.BatchSize}).Len()
	f.jointSteps = cfg.Epochs * (&data.Loader{Data: train, BatchSize: cfg.BatchSize}).Len()
	if err := f.trainMask(); err != nil {
		return err
	}
	if err := f.trainJoint(); err != nil {
		return err
	}
	nn.SetTraining(t.g, false)
	nn.SetTraining(t.m, false)
	t.ready = true
	return nil
}

// iadFit is the state of one Fit.
type iadFit struct {
	t                     *IAD
	model                 nn.Module
	train, maskSet        *data.Dataset
	p                     Poisoning
	cfg                   FitConfig
	ctx                   context.Context
	report                func(done, total int, status string)
	aug                   data.Augment
	maskSteps, jointSteps int
}

func (f *iadFit) progress(done int, status string) {
	if f.report != nil {
		f.report(done, f.maskSteps+f.jointSteps, status)
	}
}

// iadPairs iterates over two independently shuffled passes over ds in
// lockstep: batch k of the first with batch k of the second.
func iadPairs(a, b *data.Loader, epoch int) iter.Seq2[[2]*tensor.Tensor, []int] {
	return func(yield func([2]*tensor.Tensor, []int) bool) {
		next, stop := iter.Pull2(b.Epoch(epoch))
		defer stop()
		for x1, y1 := range a.Epoch(epoch) {
			x2, _, ok := next()
			if !ok || !yield([2]*tensor.Tensor{x1, x2}, y1) {
				return
			}
		}
	}
}

// iadRMS is the root mean square of each image of x [N, ...] (over every
// dimension but the first), as √(mean + 1e-12): see the IAD departures.
func iadRMS(x *ag.Var) *ag.Var {
	dims := make([]int, len(x.Shape())-1)
	for i := range dims {
		dims[i] = i + 1
	}
	return ag.Sqrt(ag.AddScalar(ag.MeanDims(ag.Square(x), dims, false), 1e-12))
}

// iadDiversity is mean(‖a1 − a2‖ / (‖b1 − b2‖ + 1e-7)): the images a differ as
// much as the generated b at most.
func iadDiversity(a1, a2, b1, b2 *ag.Var) *ag.Var {
	return ag.Mean(ag.Div(iadRMS(ag.Sub(a1, a2)), ag.AddScalar(iadRMS(ag.Sub(b1, b2)), iadEpsilon)))
}

// trainMask is stage 1: the mask generator alone.
func (f *iadFit) trainMask() error {
	t := f.t
	if f.maskSteps == 0 {
		return nil
	}
	params := fit.Params(t.m)
	opt := &optim.Adam{Params: params, Rate: float32(t.LRM), Beta1: float32(t.Beta1), Beta2: float32(t.Beta2)}
	// The release decays at epochs 10 and 20 of 25.
	sched := optim.MultiStep{Milestones: []int{f.maskSteps * 2 / 5, f.maskSteps * 4 / 5}, Gamma: 0.1}
	seed := f.p.Seed
	l1 := &data.Loader{Data: f.maskSet, BatchSize: f.cfg.BatchSize, Shuffle: true, Seed: seed ^ streamIADMask1, Reuse: true, Augment: f.aug}
	l2 := &data.Loader{Data: f.maskSet, BatchSize: f.cfg.BatchSize, Shuffle: true, Seed: seed ^ streamIADMask2, Reuse: true, Augment: f.aug}
	nn.SetTraining(t.m, true)
	step := 0 // over all epochs
	var lnorm, ldiv float32
	var normSum, divSum float64
	loop := fit.Loop[[2]*tensor.Tensor]{
		Epochs:  t.MaskEpochs,
		Batches: func(epoch int) iter.Seq2[[2]*tensor.Tensor, []int] { return iadPairs(l1, l2, epoch) },
		Params:  params, Opt: opt,
		Rate: func(_, _ int) float32 { return sched.Rate(float32(t.LRM), step) },
		Loss: func(xs [2]*tensor.Tensor, _ []int) (*ag.Var, float32) {
			x1, x2 := ag.Const(xs[0]), ag.Const(xs[1])
			m1 := iadThreshold(t.m.Forward(x1))
			m2 := iadThreshold(t.m.Forward(x2))
			norm := ag.Mean(ag.ReLU(ag.AddScalar(m1, -float32(t.MaskDensity))))
			div := iadDiversity(x1, x2, m1, m2)
			total := ag.Add(ag.Scale(norm, float32(t.LambdaNorm)), ag.Scale(div, float32(t.LambdaDiv)))
			loss := total.Item()
			lnorm, ldiv = norm.Item(), div.Item()
			return total, loss
		},
		After: func(epoch, _ int, _ float32) {
			step++
			normSum += float64(lnorm)
			divSum += float64(ldiv)
			f.progress(step, fmt.Sprintf("mask %d/%d  norm %.4f  div %.3f", epoch+1, t.MaskEpochs, normSum/float64(step), divSum/float64(step)))
		},
	}
	switch err := loop.Run(f.ctx).(type) {
	case nil:
	case *fit.Stopped:
		return fmt.Errorf("iad: mask training stopped at epoch %d, step %d: %w", err.Epoch, step+1, err.Cause)
	case *fit.NonFinite:
		return fmt.Errorf("iad: mask training diverged: the loss is %v at epoch %d, step %d; try a lower lr_m (now %g)", err.Loss, err.Epoch, step+1, t.LRM)
	default:
		return fmt.Errorf("iad: mask generator: %w", err)
	}
	if err := iadCheckFinite("mask generator", t.m); err != nil {
		return err
	}
	nn.SetTraining(t.m, false)
	return nil
}

// iadOptimizers steps the classifier's optimizer and then the pattern
// generator's; the rate is the classifier's.
type iadOptimizers struct{ c, g optim.Optimizer }

func (o iadOptimizers) Step()            { o.c.Step(); o.g.Step() }
func (o iadOptimizers) LR() float32      { return o.c.LR() }
func (o iadOptimizers) SetLR(lr float32) { o.c.SetLR(lr) }

// trainJoint is stage 2: the classifier and the pattern generator.
func (f *iadFit) trainJoint() error {
	t, cfg, p := f.t, f.cfg, f.p
	paramsC, paramsG := fit.Params(f.model), fit.Params(t.g)
	// M is fixed: no gradient reaches its parameters.
	for _, q := range nn.Params(t.m) {
		q.SetRequiresGrad(false)
	}
	defer func() {
		for _, q := range nn.Params(t.m) {
			q.SetRequiresGrad(true)
		}
	}()
	optC, err := optim.New(paramsC, optim.Config{Name: cfg.Optimizer, LR: cfg.LR, Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay})
	if err != nil {
		return fmt.Errorf("iad: %w", err)
	}
	optG := &optim.Adam{Params: paramsG, Rate: float32(t.LRG), Beta1: float32(t.Beta1), Beta2: float32(t.Beta2)}
	ld := &data.Loader{Data: f.train, BatchSize: cfg.BatchSize, Shuffle: true, Seed: cfg.Seed, Reuse: true, Augment: f.aug}
	partners := &data.Loader{Data: f.train, BatchSize: cfg.BatchSize, Shuffle: true, Seed: p.Seed ^ streamIADPartners, Reuse: true, Augment: f.aug}
	steps := ld.Len()
	var sched optim.Schedule = optim.Constant{}
	if cfg.Schedule == "cosine" {
		sched = optim.Cosine{TMax: cfg.Epochs * steps}
	}
	mean := ag.Const(tensor.FromData(t.mean, 1, t.s.C, 1, 1))
	std := ag.Const(tensor.FromData(t.std, 1, t.s.C, 1, 1))
	// normPattern maps a pattern on the [0, 1] scale to the classifier's
	// input scale, as the images are.
	normPattern := func(v *ag.Var) *ag.Var { return ag.Div(ag.Sub(v, mean), std) }
	// trigger blends x with its pattern and mask made from src (x itself, or
	// the partner for a cross trigger).
	trigger := func(x, src *ag.Var) (*ag.Var, *ag.Var) {
		pat := normPattern(t.g.Forward(src))
		mask := iadThreshold(t.m.Forward(src))
		return ag.Add(x, ag.Mul(ag.Sub(pat, x), mask)), pat
	}

	nn.SetTraining(f.model, true)
	nn.SetTraining(t.g, true)
	nn.SetTraining(t.m, false)
	classes := f.train.Classes
	// The epoch's counts; nb and nc are the step's backdoor and cross
	// images, at the front of the batch.
	var lossSum, divSum float64
	var seen, right, clean, bdRight, bdSeen int
	var nb, nc int
	var labels, pred []int
	var ldiv float32
	loop := fit.Loop[[2]*tensor.Tensor]{
		Epochs:  cfg.Epochs,
		Batches: func(epoch int) iter.Seq2[[2]*tensor.Tensor, []int] { return iadPairs(ld, partners, epoch) },
		// G's gradients are never zeroed, as in the release: see IAD.
		Params: paramsC, Opt: iadOptimizers{optC, optG},
		Rate: func(epoch, step int) float32 { return sched.Rate(float32(cfg.LR), epoch*steps+step) },
		Before: func(_, step int, _ [2]*tensor.Tensor, y []int) {
			if step == 0 {
				lossSum, divSum = 0, 0
				seen, right, clean, bdRight, bdSeen = 0, 0, 0, 0, 0
			}
			n := len(y)
			// Counts carry their fractions over from batch to batch.
			nb = int(p.Rate*float64(seen+n)) - int(p.Rate*float64(seen))
			nc = int(t.CrossRate*float64(seen+n)) - int(t.CrossRate*float64(seen))
			nb = min(nb, n)
			nc = min(nc, n-nb)
			labels = make([]int, n)
			for i, yi := range y {
				labels[i] = yi
				if i < nb {
					labels[i] = p.Label(yi, classes)
				}
			}
		},
		Loss: func(xs [2]*tensor.Tensor, y []int) (*ag.Var, float32) {
			n := len(y)
			x := ag.Const(xs[0])
			parts := make([]*ag.Var, 0, 3)
			var div *ag.Var
			var xb, pb, xp, pc *ag.Var
			if nb > 0 {
				xb = ag.Narrow(x, 0, 0, nb)
				var bd *ag.Var
				bd, pb = trigger(xb, xb)
				parts = append(parts, bd)
			}
			if nc > 0 {
				xc := ag.Narrow(x, 0, nb, nc)
				xp = ag.Narrow(ag.Const(xs[1]), 0, nb, nc)
				var cross *ag.Var
				cross, pc = trigger(xc, xp)
				parts = append(parts, cross)
			}
			if nb+nc < n {
				parts = append(parts, ag.Narrow(x, 0, nb+nc, n-nb-nc))
			}
			in := parts[0]
			if len(parts) > 1 {
				in = ag.Concat(0, parts...)
			}
			logits := f.model.Forward(in)
			total := ag.CrossEntropy(logits, labels)
			ldiv = 0
			if k := min(nb, nc); k > 0 && t.LambdaDiv > 0 {
				div = iadDiversity(ag.Narrow(xb, 0, 0, k), ag.Narrow(xp, 0, 0, k), ag.Narrow(pb, 0, 0, k), ag.Narrow(pc, 0, 0, k))
				total = ag.Add(total, ag.Scale(div, float32(t.LambdaDiv)))
				ldiv = div.Item()
			}
			loss := total.Item()
			pred = logits.Value.ArgMaxRows()
			return total, loss
		},
		After: func(epoch, step int, loss float32) {
			n := len(labels)
			seen += n
			lossSum += float64(loss)
			divSum += float64(ldiv)
			bdRight += metrics.Correct(pred[:nb], labels[:nb])
			bdSeen += nb
			right += metrics.Correct(pred[nb+nc:], labels[nb+nc:])
			clean += n - nb - nc
			f.progress(f.maskSteps+epoch*steps+step+1, fmt.Sprintf("epoch %d/%d  loss %.4f  div %.3f  acc %.2f%%  bd %.2f%%",
				epoch+1, cfg.Epochs, lossSum/float64(step+1), divSum/float64(step+1), iadPct(right, clean), iadPct(bdRight, bdSeen)))
		},
	}
	switch err := loop.Run(f.ctx).(type) {
	case nil:
	case *fit.Stopped:
		return fmt.Errorf("iad: training stopped at epoch %d, step %d: %w", err.Epoch, err.Step, err.Cause)
	case *fit.NonFinite:
		return fmt.Errorf("iad: training diverged: the loss is %v at epoch %d, step %d; try a lower learning rate (--lr, now %g)", err.Loss, err.Epoch, err.Step, cfg.LR)
	default:
		return err
	}
	if err := iadCheckFinite("classifier", f.model); err != nil {
		return err
	}
	return iadCheckFinite("pattern generator", t.g)
}

func iadPct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// iadCheckFinite reports a parameter of m holding NaN or ±Inf.
func iadCheckFinite(what string, m nn.Module) error {
	if name := fit.NonFiniteParam(m); name != "" {
		return fmt.Errorf("iad: training diverged: %s parameter %s holds NaN or infinite values after the last step; try lower learning rates", what, name)
	}
	return nil
}
