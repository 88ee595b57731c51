package expose

import (
	"context"
	"fmt"
	"math/rand/v2"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/nn"
	"ebyd/optim"
)

// AWP is the seed's adversarial neuron perturbation (exposes/awp.py, ANP's
// noisy BatchNorm without the mask half): every hidden channel c gets a
// multiplicative weight noise δ_c and bias noise ξ_c (nn.Gate: the channel
// computes (1+δ_c)·(weight part) + (1+ξ_c)·bias), on BatchNorm channels, or
// on the conv output channels and hidden dense units of a network without
// BatchNorm (nn.ChannelGates).
//
// For each noise bound eps of Levels (default 0, 0.1, …, 0.9; eps 0 only
// evaluates), Epochs passes (default 6, the seed's epochs 0..5) run over the
// defense images in training mode. For every batch the noise is drawn
// uniformly from [−eps, eps], then takes Steps (default 1) signed gradient
// ascent steps on the clean cross-entropy of lr 0.2 (SGD on −CE with each
// noise gradient replaced by its sign). After each level the model is
// evaluated in evaluation mode with the last batch's noise on: that is the
// trace row, and the exposed model is the last level's (the noise folded
// into the weights).
//
// Departure from the seed: after each step the noise is clipped back to
// [−eps, eps], as ANP does; the seed leaves it unclipped, so that its real
// perturbation is up to eps + 0.2 whatever eps says.
type AWP struct {
	Levels    []float64 `json:"levels"`
	Epochs    int       `json:"epochs"`
	Steps     int       `json:"steps"`
	LR        float64   `json:"lr"`
	BatchSize int       `json:"batch_size"`
	// Clip keeps the noise within [−eps, eps] (true by default; false is the
	// seed's behaviour).
	Clip bool `json:"clip"`
}

func init() {
	register("awp", func() Exposer {
		return &AWP{Levels: []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}, Epochs: 6, Steps: 1, LR: 0.2, BatchSize: 128, Clip: true}
	})
}

func (a *AWP) check() error {
	if len(a.Levels) == 0 {
		return fmt.Errorf("levels: give at least one noise bound")
	}
	for _, e := range a.Levels {
		if !(e >= 0) {
			return fmt.Errorf("levels: noise bound %g must not be negative", e)
		}
	}
	switch {
	case a.Epochs < 1 || a.Steps < 1 || a.BatchSize < 1:
		return fmt.Errorf("epochs %d, steps %d, batch_size %d: each must be at least 1", a.Epochs, a.Steps, a.BatchSize)
	case !(a.LR > 0):
		return fmt.Errorf("lr %g: must be positive", a.LR)
	}
	return nil
}

func (a *AWP) Expose(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Trace, error) {
	gates, err := nn.ChannelGates(m)
	if err != nil {
		return nil, err
	}
	defer gates.Remove()
	noise := gates.Noises()
	ds := d.Data()
	ld := &data.Loader{Data: ds, BatchSize: a.BatchSize, Shuffle: true, Seed: env.Seed, Reuse: true, Augment: data.DefaultAugment(ds.Name)}
	r := rand.New(rand.NewPCG(env.Seed, 0x617770)) // "awp"
	tr := &Trace{Method: "awp", Stop: "levels"}
	rec := &recorder{m: m, ds: ds, env: env, trace: tr}
	total := 0
	for _, eps := range a.Levels {
		if eps > 0 {
			total += a.Epochs * ld.Len() * a.Steps
		}
	}
	done := 0
	arena := ag.NewArena()
	for li, eps := range a.Levels {
		if eps > 0 {
			gates.Perturb(true)
			nn.SetTraining(m, true)
			for epoch := range a.Epochs {
				for x, y := range ld.Epoch(li*a.Epochs + epoch) {
					if err := ctx.Err(); err != nil {
						return nil, fmt.Errorf("awp stopped at noise level %g: %w", eps, context.Cause(ctx))
					}
					for _, v := range noise {
						for i := range v.Value.Data {
							v.Value.Data[i] = float32((2*r.Float64() - 1) * eps)
						}
					}
					for range a.Steps {
						optim.ZeroGrad(noise)
						err := nn.Recover(func() {
							arena.Step(func() {
								ag.Backward(ag.Neg(ag.CrossEntropy(m.Forward(ag.Const(x)), y)))
							})
						})
						if err != nil {
							return nil, err
						}
						for _, v := range noise {
							if v.Grad == nil {
								continue
							}
							for i, g := range v.Grad.Data {
								s := float32(0)
								switch {
								case g > 0:
									s = 1
								case g < 0:
									s = -1
								}
								n := v.Value.Data[i] - float32(a.LR)*s
								if a.Clip {
									n = max(-float32(eps), min(float32(eps), n))
								}
								v.Value.Data[i] = n
							}
						}
						done++
						env.progress(done, total, fmt.Sprintf("eps %.2f", eps))
					}
				}
			}
			nn.SetTraining(m, false)
		}
		if _, err := rec.row(li, eps, a.LR, nil); err != nil {
			return nil, err
		}
	}
	gates.Fold()
	nn.SetTraining(m, false)
	tr.Candidates = rankByShare(tr.Final().Share)
	return tr, nil
}
