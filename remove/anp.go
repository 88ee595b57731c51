package remove

import (
	"context"
	"fmt"
	"math/rand/v2"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/fit"
	"ebyd/nn"
	"ebyd/optim"
)

// ANP is Adversarial Neuron Pruning (Wu & Wang, 2021; the seed's
// defenses/ANP.py): every gated channel gets a mask in [0, 1] and a
// multiplicative weight and bias noise (nn.Gate). For each of Iterations
// batches drawn at random from the defense images (a reshuffled pass after
// another, as ANP's RandomSampler), the noise is drawn uniformly from
// [−Eps, Eps] and takes NoiseSteps signed ascent steps of Eps/NoiseSteps on
// the cross-entropy, clipped to [−Eps, Eps]; then the masks take one SGD
// step (MaskLR, momentum 0.9) on Alpha·CE(clean) + (1−Alpha)·CE(perturbed)
// and are clamped to [0, 1]. The channels with small masks are then pruned
// (Pruning: below Threshold 0.2, as far as the defense accuracy Budget
// allows).
//
// Departure: ANP and the seed prune by a fixed mask threshold or count
// chosen by looking at test ASR; here the cut is chosen on defense data.
type ANP struct {
	Eps        float64 `json:"eps"`
	NoiseSteps int     `json:"noise_steps"`
	Alpha      float64 `json:"alpha"`
	MaskLR     float64 `json:"mask_lr"`
	Iterations int     `json:"iterations"`
	BatchSize  int     `json:"batch_size"`
	// TrainMode perturbs and learns in training mode, as ANP does.
	TrainMode bool `json:"train_mode"`
	Pruning
}

func init() {
	register("anp", func() Remover {
		return &ANP{Eps: 0.4, NoiseSteps: 1, Alpha: 0.2, MaskLR: 0.2, Iterations: 2000, BatchSize: 128, TrainMode: true, Pruning: defaultPruning()}
	})
}

func (c *ANP) check() error {
	switch {
	case !(c.Eps >= 0):
		return fmt.Errorf("eps %g: must not be negative", c.Eps)
	case c.NoiseSteps < 1 || c.Iterations < 1 || c.BatchSize < 1:
		return fmt.Errorf("noise_steps %d, iterations %d, batch_size %d: each must be at least 1", c.NoiseSteps, c.Iterations, c.BatchSize)
	case !(c.Alpha >= 0 && c.Alpha <= 1):
		return fmt.Errorf("alpha %g: must be in [0, 1]", c.Alpha)
	case !(c.MaskLR > 0):
		return fmt.Errorf("mask_lr %g: must be positive", c.MaskLR)
	}
	return c.Pruning.check()
}

// anpRow is how many iterations make a row of the curve (ANP's
// print_every).
const anpRow = 500

func (c *ANP) Remove(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Report, error) {
	rep, ds, err := begin("anp", m, d)
	if err != nil {
		return nil, err
	}
	gates, err := nn.ChannelGates(m)
	if err != nil {
		return nil, err
	}
	defer gates.Remove()
	masks, noise := gates.Masks(), gates.Noises()
	all := append(append([]*ag.Var{}, masks...), noise...)
	for _, p := range nn.Params(m) {
		all = append(all, p.Var)
	}
	opt := &optim.SGD{Params: masks, Rate: float32(c.MaskLR), Momentum: 0.9}
	ld := &data.Loader{Data: ds, BatchSize: c.BatchSize, Shuffle: true, Seed: env.Seed, Reuse: true, Augment: data.DefaultAugment(ds.Name)}
	r := rand.New(rand.NewPCG(env.Seed, 0x616e70)) // "anp"
	tk := &ticker{env: env, total: c.Iterations + c.Pruning.steps(ds.N)}
	arena := ag.NewArena()
	eps := float32(c.Eps)
	var sum float64
	it, epoch := 0, 0
	for it < c.Iterations {
		for x, y := range ld.Epoch(epoch) {
			if it == c.Iterations {
				break
			}
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("anp stopped at iteration %d: %w", it, context.Cause(ctx))
			}
			nn.SetTraining(m, c.TrainMode)
			var loss float32
			err := nn.Recover(func() {
				if eps > 0 {
					for _, v := range noise {
						for i := range v.Value.Data {
							v.Value.Data[i] = eps * float32(2*r.Float64()-1)
						}
					}
					gates.Perturb(true)
					for range c.NoiseSteps {
						optim.ZeroGrad(all)
						arena.Step(func() { ag.Backward(ag.Neg(ag.CrossEntropy(m.Forward(ag.Const(x)), y))) })
						step := eps / float32(c.NoiseSteps)
						for _, v := range noise {
							if v.Grad == nil {
								continue
							}
							for i, g := range v.Grad.Data {
								n := v.Value.Data[i]
								switch {
								case g > 0:
									n -= step
								case g < 0:
									n += step
								}
								v.Value.Data[i] = max(-eps, min(eps, n))
							}
						}
					}
				}
				optim.ZeroGrad(all)
				arena.Step(func() {
					gates.Perturb(false)
					nat := ag.CrossEntropy(m.Forward(ag.Const(x)), y)
					total := ag.Scale(nat, float32(c.Alpha))
					if eps > 0 {
						gates.Perturb(true)
						rob := ag.CrossEntropy(m.Forward(ag.Const(x)), y)
						total = ag.Add(total, ag.Scale(rob, float32(1-c.Alpha)))
					}
					loss = total.Item()
					ag.Backward(total)
				})
				gates.Perturb(false)
			})
			if err != nil {
				return nil, err
			}
			opt.Step()
			clampMasks(masks)
			sum += float64(loss)
			it++
			tk.tick(fmt.Sprintf("anp %d/%d  loss %.4f", it, c.Iterations, sum/float64((it-1)%anpRow+1)))
			if it%anpRow == 0 || it == c.Iterations {
				nn.SetTraining(m, false)
				acc, err := fit.Accuracy(m, ds, fit.EvalBatch)
				if err != nil {
					return nil, err
				}
				rep.Rows = append(rep.Rows, Row{Stage: "masks", Epoch: it, DefenseAcc: acc, Loss: sum / float64((it-1)%anpRow+1)})
				sum = 0
			}
		}
		epoch++
	}
	nn.SetTraining(m, false)
	order := gateValues(gates, func(g *nn.Gate, ch int) float64 { return float64(g.Mask.Value.Data[ch]) })
	rep.Scores = order
	for _, v := range masks {
		for i := range v.Value.Data {
			v.Value.Data[i] = 1
		}
	}
	for _, v := range noise {
		v.Value.Zero()
	}
	if err := c.Pruning.prune(ctx, m, gates, order, &c.Threshold, ds, env, rep, tk); err != nil {
		return nil, err
	}
	return rep.end(m, ds)
}
