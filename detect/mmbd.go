package detect

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/nn"
	"ebyd/optim"
	"ebyd/tensor"
)

// MMBD is maximum-margin backdoor detection (Wang et al., "MM-BD:
// Post-Training Detection of Backdoor Attacks with Arbitrary Backdoor
// Pattern Types Using a Maximum Margin Statistic", S&P 2024), as the seed's
// detections/MMBD.py runs it (dossier §4.2 b). It needs no clean data: for
// each class t, Images random images, uniform on the [0,1] pixel scale, are
// optimised by SGD (LR, Momentum) to maximise the margin of t,
//
//	loss = −Σᵢ zₜ(clamp(xᵢ, 0, 1)) + Σᵢ max_{j≠t} zⱼ(clamp(xᵢ, 0, 1)),
//
// z being the logits of the normalised images, until the loss changes by
// less than Tol relative to the step before or after Steps steps. The
// class's statistic is the largest margin zₜ − max_{j≠t} zⱼ over the images
// at the last step. A backdoor target has a far larger maximum margin than
// the other classes: a Gamma distribution (FitGamma) is fitted to the K−1
// statistics other than the largest, and the p-value of the largest is
// 1 − F(r_max)^K; backdoored when p ≤ Alpha (0.05), the target being the
// class of the largest statistic.
//
// The seed allows 3,000 steps per class, about 11 minutes of one core for
// mnistnet; the default here is 300 (65 s of one core; the
// relative-change stop never fired within 300 steps on the grid). Measured
// on the grid's MNIST models, p-value (class of the largest statistic):
//
//	            300 steps       100 steps
//	BadNets t0  0.00079 (0)     4.5e-5 (0)
//	BadNets t7  -               1.3e-6 (7)
//	Blend t0    9.2e-6 (0)      -
//	Blend t3    0.0048 (3)      0.19 (3)
//	WaNet t0    0.23 (2)        -
//	clean       0.41, 0.35      0.59
//
// The seed feeds unnormalised [0,1] images to models trained on normalised
// ones; here the images are normalised with the defense data's mean and std
// before the model.
type MMBD struct {
	Images   int     `json:"images"`
	Steps    int     `json:"steps"`
	LR       float64 `json:"lr"`
	Momentum float64 `json:"momentum"`
	Tol      float64 `json:"tol"`
	Alpha    float64 `json:"alpha"`
	Seed     uint64  `json:"seed"`
}

// MMBDDefaultSteps is MMBD's default step budget per class.
const MMBDDefaultSteps = 300

// NewMMBD returns the seed's settings with MMBDDefaultSteps steps.
func NewMMBD() *MMBD {
	return &MMBD{Images: 30, Steps: MMBDDefaultSteps, LR: 0.01, Momentum: 0.2, Tol: 1e-5, Alpha: 0.05, Seed: 1}
}

func init() { register("mmbd", func() Detector { return NewMMBD() }) }

// MMBDResult is MMBD's finding.
type MMBDResult struct {
	Margins    []float64 `json:"margins"` // the statistic of every class
	StepsRun   []int     `json:"steps_run"`
	Target     int       `json:"predicted_target"`
	Null       GammaFit  `json:"null"`
	PValue     float64   `json:"p_value"`
	Alpha      float64   `json:"alpha"`
	Backdoored bool      `json:"backdoored"`
	Seconds    float64   `json:"seconds"`
}

const streamMMBD = 0x6d6d6264 << 32

// Run computes every class's statistic and the test. def supplies only the
// normalisation (MMBD uses no clean images).
func (mm *MMBD) Run(ctx context.Context, m nn.Module, def *data.Defense, progress Progress) (*MMBDResult, error) {
	if err := mm.Validate(); err != nil {
		return nil, err
	}
	switch {
	case def == nil || def.Len() == 0:
		return nil, fmt.Errorf("mmbd: no defense data (its normalisation is needed)")
	}
	start := time.Now()
	ds := def.Data()
	nm, err := normOf(ds)
	if err != nil {
		return nil, err
	}
	k := ds.Classes
	if k < 3 {
		return nil, fmt.Errorf("mmbd: %d classes; the null fit needs at least 3", k)
	}
	restore := prepared(m)
	defer restore()
	res := &MMBDResult{Margins: make([]float64, k), StepsRun: make([]int, k), Alpha: mm.Alpha}
	for t := range k {
		if res.Margins[t], res.StepsRun[t], err = mm.margin(ctx, m, nm, ds, t); err != nil {
			return nil, err
		}
		progress.report(t+1, k, fmt.Sprintf("class %d: max margin %.3g after %d steps", t, res.Margins[t], res.StepsRun[t]))
	}
	res.Target = argmax(res.Margins)
	null := make([]float64, 0, k-1)
	for c, r := range res.Margins {
		if c != res.Target {
			null = append(null, r)
		}
	}
	if res.Null, err = FitGamma(null); err != nil {
		return nil, fmt.Errorf("mmbd: %w", err)
	}
	res.PValue = res.Null.MaxPValue(res.Margins[res.Target], k)
	res.Backdoored = res.PValue <= mm.Alpha
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// Validate checks the settings.
func (mm *MMBD) Validate() error {
	switch {
	case mm.Images < 1 || mm.Steps < 1:
		return fmt.Errorf("mmbd: %d images, %d steps; want at least 1 of each", mm.Images, mm.Steps)
	case !(mm.LR > 0) || !(mm.Momentum >= 0):
		return fmt.Errorf("mmbd: learning rate %g, momentum %g; want a positive rate and a momentum ≥ 0", mm.LR, mm.Momentum)
	case !(mm.Alpha > 0 && mm.Alpha < 1):
		return fmt.Errorf("mmbd: significance level %g; want it in (0, 1)", mm.Alpha)
	}
	return nil
}

// Detect implements Detector; the score is 1 − p.
func (mm *MMBD) Detect(ctx context.Context, m nn.Module, def *data.Defense, progress Progress) (*Result, error) {
	r, err := mm.Run(ctx, m, def, progress)
	if err != nil {
		return nil, err
	}
	res := decided("mmbd", r.Target, 1-r.PValue, 1-mm.Alpha, r.Backdoored)
	res.MMBD = r
	return res, nil
}

// margin optimises the images of class t and returns the largest margin.
func (mm *MMBD) margin(ctx context.Context, m nn.Module, nm norm, ds *data.Dataset, t int) (float64, int, error) {
	n, c, h, w := mm.Images, ds.C, ds.H, ds.W
	x := tensor.New(n, c, h, w)
	rng := rand.New(rand.NewPCG(mm.Seed, streamMMBD+uint64(t)))
	for i := range x.Data {
		x.Data[i] = rng.Float32()
	}
	xv := ag.Param(x)
	opt := &optim.SGD{Params: []*ag.Var{xv}, Rate: float32(mm.LR), Momentum: float32(mm.Momentum)}
	scale, shift := nm.affine()
	arena := ag.NewArena()
	sel := tensor.New(n, ds.Classes)
	last := 1000.0 // the seed's starting value
	var best float64
	steps := 0
	for steps < mm.Steps {
		if err := ctx.Err(); err != nil {
			return 0, steps, err
		}
		var loss float64
		var err error
		arena.Step(func() {
			err = nn.Recover(func() {
				in := ag.Add(ag.Mul(ag.Clamp(xv, 0, 1), scale), shift)
				z := m.Forward(in)
				checkLogits(z.Shape(), n, ds.Classes)
				// sel = −onehot(t) + onehot(argmax_{j≠t} z): the
				// gradient of max goes to its first maximum, as in PyTorch.
				clear(sel.Data)
				best = math.Inf(-1)
				for i := range n {
					row := z.Value.Data[i*ds.Classes : (i+1)*ds.Classes]
					o := -1
					for j, v := range row {
						if j != t && (o < 0 || v > row[o]) {
							o = j
						}
					}
					sel.Data[i*ds.Classes+t] = -1
					sel.Data[i*ds.Classes+o] = 1
					best = max(best, float64(row[t]-row[o]))
				}
				l := ag.Sum(ag.Mul(z, ag.Const(sel)))
				ag.Backward(l)
				loss = float64(l.Item())
			})
		})
		if err != nil {
			return 0, steps, fmt.Errorf("mmbd: %w", err)
		}
		opt.Step()
		optim.ZeroGrad(opt.Params)
		steps++
		if math.Abs(last-loss)/math.Abs(last) < mm.Tol {
			break
		}
		last = loss
	}
	return best, steps, nil
}
