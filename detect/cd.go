package detect

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/nn"
	"ebyd/optim"
	"ebyd/tensor"
)

// CognitiveDistillation extracts from each input the smallest part of it
// that still produces the model's output (Huang et al., "Distilling
// Cognitive Backdoor Patterns within an Image", ICLR 2023; the seed's
// detections/cognitive_distillation.py, dossier §4.3 and §4.5). Per input
// x, a one-channel mask m = (tanh(w) + 1)/2 over the image plane, w
// starting at 1, is optimised by Adam (LR, betas Beta1, Beta2) for Steps
// steps on
//
//	x'   = x⊙m + (1 − m)⊙u     u: a random colour per channel, new every step
//	loss = mean_k |z(x')ₖ − z(x)ₖ| + Gamma·‖m‖₁ + Beta·TV(m)
//
// on the [0,1] pixel scale (the model sees x' normalised with the defense
// data's mean and std), z being the logits and TV(m) the sum of squared
// differences between neighbouring mask values divided by the mask's size
// H·W. A backdoor input needs only its trigger to keep its output, so its
// mask is small: the score is −‖m‖₁ of the final mask.
//
// The seed averages the loss over the batch; here the per-input losses are
// summed, which gives every input the same gradient whatever batch it is
// in (Adam divides the scale out, up to its ε). The colours u of input i
// come from a generator seeded with Seed and i. The seed runs 100 steps;
// that is the default here too (about 80 ms of one core per MNIST input on
// mnistnet).
//
// On the MNIST models of the attack grid (mnistnet, one epoch) the masks do
// not separate triggered from clean inputs: AUROC 0.47 on BadNets (0.37
// with 30 steps, 0.49 with 300), 0.40 on Blend, 0.54 on WaNet. A triggered
// digit's mask does keep the trigger and shrinks against the same digit
// without it (65 against 97 pixels for one "1"), but matching all ten
// logits still needs much of the digit, and the norm varies more between
// digits than the trigger takes off.
type CognitiveDistillation struct {
	Steps     int     `json:"steps"`
	LR        float64 `json:"lr"`
	Beta1     float64 `json:"beta1"`
	Beta2     float64 `json:"beta2"`
	Gamma     float64 `json:"gamma"` // weight of the mask's L1 norm
	Beta      float64 `json:"beta"`  // weight of its total variation
	BatchSize int     `json:"batch_size"`
	Seed      uint64  `json:"seed"`
}

// CDDefaultSteps is Cognitive Distillation's default number of steps.
const CDDefaultSteps = 100

// NewCognitiveDistillation returns the seed's settings.
func NewCognitiveDistillation() *CognitiveDistillation {
	return &CognitiveDistillation{Steps: CDDefaultSteps, LR: 0.1, Beta1: 0.1, Beta2: 0.1, Gamma: 0.01, Beta: 1, BatchSize: 100, Seed: 1}
}

func init() { registerSampler("cd", func() SampleDetector { return NewCognitiveDistillation() }) }

const streamCD = 0x6364 << 40

// Masks returns the distilled mask of every input (H×W values in [0,1]
// each) and their L1 norms.
func (cd *CognitiveDistillation) Masks(ctx context.Context, m nn.Module, def *data.Defense, x *Images, progress Progress) (masks [][]float32, l1 []float64, err error) {
	if err := cd.Validate(); err != nil {
		return nil, nil, err
	}
	if def == nil || def.Len() == 0 {
		return nil, nil, fmt.Errorf("cd: no defense data (its normalisation is needed)")
	}
	if err := x.validate(); err != nil {
		return nil, nil, err
	}
	ds := def.Data()
	if ds.C != x.C {
		return nil, nil, fmt.Errorf("cd: inputs have %d channels, the defense images %d", x.C, ds.C)
	}
	nm, err := normOf(ds)
	if err != nil {
		return nil, nil, err
	}
	restore := prepared(m)
	defer restore()
	masks, l1 = make([][]float32, x.N), make([]float64, x.N)
	for lo := 0; lo < x.N; lo += cd.BatchSize {
		hi := min(lo+cd.BatchSize, x.N)
		if err := cd.batch(ctx, m, nm, x, lo, hi, masks, l1); err != nil {
			return nil, nil, err
		}
		progress.report(hi, x.N, "")
	}
	return masks, l1, nil
}

// Validate checks the settings.
func (cd *CognitiveDistillation) Validate() error {
	switch {
	case cd.Steps < 1 || cd.BatchSize < 1:
		return fmt.Errorf("cd: %d steps, batch size %d; want at least 1 of each", cd.Steps, cd.BatchSize)
	case !(cd.LR > 0):
		return fmt.Errorf("cd: learning rate %g; want > 0", cd.LR)
	case !(cd.Beta1 >= 0 && cd.Beta1 < 1 && cd.Beta2 >= 0 && cd.Beta2 < 1):
		return fmt.Errorf("cd: Adam betas %g, %g; want them in [0, 1)", cd.Beta1, cd.Beta2)
	}
	return nil
}

// ScoreSamples implements SampleDetector: −‖m‖₁.
func (cd *CognitiveDistillation) ScoreSamples(ctx context.Context, m nn.Module, def *data.Defense, x *Images, progress Progress) ([]float64, error) {
	_, l1, err := cd.Masks(ctx, m, def, x, progress)
	for i := range l1 {
		l1[i] = -l1[i]
	}
	return l1, err
}

// batch distils inputs lo..hi into masks and l1.
func (cd *CognitiveDistillation) batch(ctx context.Context, m nn.Module, nm norm, x *Images, lo, hi int, masks [][]float32, l1 []float64) error {
	b, c, h, w := hi-lo, x.C, x.H, x.W
	in := nm.batch(x, lo, hi)
	ref, err := forward(m, in, 0)
	if err != nil {
		return fmt.Errorf("cd: %w", err)
	}
	k := ref.Shape[1]
	wv := ag.Param(tensor.Full(1, b, 1, h, w))
	opt := &optim.Adam{Params: []*ag.Var{wv}, Rate: float32(cd.LR), Beta1: float32(cd.Beta1), Beta2: float32(cd.Beta2)}
	rngs := make([]*rand.Rand, b)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(cd.Seed, streamCD+uint64(lo+i)))
	}
	u := tensor.New(b, c, 1, 1)
	xv, refv := ag.Const(in), ag.Const(ref)
	arena := ag.NewArena()
	size := float32(h * w)
	for range cd.Steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := range b {
			for ch := range c {
				u.Data[i*c+ch] = (rngs[i].Float32() - nm.mean[ch]) / nm.std[ch]
			}
		}
		arena.Step(func() {
			err = nn.Recover(func() {
				mask := ag.Scale(ag.AddScalar(ag.Tanh(wv), 1), 0.5)
				uv := ag.Const(u)
				adv := ag.Add(uv, ag.Mul(mask, ag.Sub(xv, uv)))
				z := m.Forward(adv)
				checkLogits(z.Shape(), b, k)
				dist := ag.MeanDims(ag.Abs(ag.Sub(z, refv)), []int{1}, false)
				norm := ag.SumDims(mask, []int{1, 2, 3}, false)
				dh := ag.Sub(ag.Narrow(mask, 2, 1, h-1), ag.Narrow(mask, 2, 0, h-1))
				dw := ag.Sub(ag.Narrow(mask, 3, 1, w-1), ag.Narrow(mask, 3, 0, w-1))
				tv := ag.Add(ag.SumDims(ag.Square(dh), []int{1, 2, 3}, false), ag.SumDims(ag.Square(dw), []int{1, 2, 3}, false))
				loss := ag.Add(dist, ag.Add(ag.Scale(norm, float32(cd.Gamma)), ag.Scale(tv, float32(cd.Beta)/size)))
				ag.Backward(ag.Sum(loss))
			})
		})
		if err != nil {
			return fmt.Errorf("cd: %w", err)
		}
		opt.Step()
		optim.ZeroGrad(opt.Params)
	}
	hw := h * w
	for i := range b {
		mk := make([]float32, hw)
		var s float64
		for p := range hw {
			v := float32((math.Tanh(float64(wv.Value.Data[i*hw+p])) + 1) / 2)
			mk[p] = v
			s += float64(v)
		}
		masks[lo+i], l1[lo+i] = mk, s
	}
	return nil
}
