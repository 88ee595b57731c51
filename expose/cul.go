package expose

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/nn"
	"ebyd/tensor"
)

// CUL is Clean Unlearning engineered to find the backdoor target, the
// default exposure. It is the seed's objective (gradient ascent on the
// clean cross-entropy of the defense images, every parameter, Adam with
// coupled weight decay 5e-4, batch 128, the network in evaluation mode)
// with three changes, each measured on trained MNIST models
// (docs/exposure.md):
//
//  1. Perturbed inputs. A backdoor's pathway is silent on clean images (its
//     units do not fire), so the gradient of the clean loss never reaches
//     it and plain unlearning collapses the model onto a "sink" class that
//     clean models reach as well. CUL unlearns on perturbed defense images
//     instead, which wake the pathway: white noise (every pixel plus
//     N(0, Noise²), in normalised units) or a brightness shift (every
//     pixel of an image plus one draw of N(0, Shift²)). The labels stay the
//     true ones; the trace's defense accuracy and class shares are
//     measured on the clean defense images.
//  2. A step size that moves a small network: lr 1e-4 (the seed's 1e-5
//     leaves an MNIST network unchanged after its 80 steps).
//  3. Rounds that peel sinks off. Round 1 unlearns until the model
//     collapses (StopAcc or Collapse) or Epochs run out; the class it
//     collapsed onto (the argmax of its class share) is then excluded
//     (its logit masked to −∞ for the loss and the predictions) and round
//     2 starts again from the suspect model with the next probe of Probes,
//     and so on. A sink class of one probe is thus removed from the later
//     rounds, while a backdoor target keeps attracting the defense images
//     under every probe that wakes its trigger.
//
// The exposed model is round 1's, and the trace rows are round 1's: the
// predicted target is the class round 1 collapsed onto. Candidates rank the
// collapse classes in the order they were peeled off, then the other labels
// by their mean final class share over the rounds: with R rounds, the class
// peeled in round r scores R − r + 1 + its final share in that round (so
// in (R − r + 1, R − r + 2]), any other class its mean share (in [0, 1)).
// A target that a probe's sink beat in round 1 thus comes back in a later
// round.
//
// Stop rule (per round): after the first epoch whose defense accuracy is at
// most StopAcc (0: chance, 1/K) or whose top class share is at least
// Collapse (a complete collapse leaves right exactly the defense images of
// the collapse class, a little above 1/K when that class is common).
type CUL struct {
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	Epochs      int     `json:"epochs"` // at most, per round
	BatchSize   int     `json:"batch_size"`
	// TrainMode runs the updates in training mode (BatchNorm batch
	// statistics, dropout on) instead of evaluation mode.
	TrainMode bool    `json:"train_mode"`
	StopAcc   float64 `json:"stop_acc"`
	Collapse  float64 `json:"collapse"`
	// Probes are the rounds' input perturbations: "noise", "shift" or
	// "none" (plain unlearning).
	Probes []string `json:"probes"`
	Noise  float64  `json:"noise"`
	Shift  float64  `json:"shift"`
}

func init() {
	register("cul", func() Exposer {
		return &CUL{LR: 1e-4, WeightDecay: 5e-4, Epochs: 20, BatchSize: 128, Collapse: 0.99,
			Probes: []string{"noise", "shift", "noise", "shift"}, Noise: 2, Shift: 1}
	})
}

func (c *CUL) check() error {
	if len(c.Probes) == 0 {
		return fmt.Errorf("probes: give at least one round")
	}
	for _, p := range c.Probes {
		if p != "noise" && p != "shift" && p != "none" {
			return fmt.Errorf("probes: %q is not noise, shift or none", p)
		}
	}
	switch {
	case c.StopAcc < 0 || c.StopAcc > 1:
		return fmt.Errorf("stop_acc %g: must be in [0, 1] (0: chance)", c.StopAcc)
	case !(c.Collapse > 0 && c.Collapse <= 1):
		return fmt.Errorf("collapse %g: must be in (0, 1]", c.Collapse)
	case c.Noise < 0 || c.Shift < 0 || math.IsInf(c.Noise, 0) || math.IsInf(c.Shift, 0):
		return fmt.Errorf("noise %g, shift %g: must not be negative", c.Noise, c.Shift)
	}
	return checkCommon(c.LR, c.WeightDecay, c.Epochs, c.BatchSize)
}

// perturbation returns the batch edit of a probe.
func (c *CUL) perturbation(probe string) func(x *tensor.Tensor, r *rand.Rand) {
	switch probe {
	case "noise":
		return func(x *tensor.Tensor, r *rand.Rand) {
			for i := range x.Data {
				x.Data[i] += float32(c.Noise * r.NormFloat64())
			}
		}
	case "shift":
		return func(x *tensor.Tensor, r *rand.Rand) {
			per := x.Len() / x.Shape[0]
			for n := range x.Shape[0] {
				s := float32(c.Shift * r.NormFloat64())
				img := x.Data[n*per : (n+1)*per]
				for i := range img {
					img[i] += s
				}
			}
		}
	}
	return nil
}

func (c *CUL) Expose(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Trace, error) {
	k := d.Classes()
	last, err := nn.LastLinear(m)
	if err != nil {
		return nil, err
	}
	stop := c.StopAcc
	if stop == 0 {
		stop = 1 / float64(k)
	}
	suspect := snapshot(m)
	var exposed [][]float32
	var trace *Trace
	score := make([]float64, k)
	peeled := make([]int, k) // round (1-based) in which a class was peeled; 0: never
	var excluded []int
	steps := (d.Len() + c.BatchSize - 1) / c.BatchSize
	perRound := c.Epochs * steps
	for r, probe := range c.Probes {
		if r > 0 {
			restore(m, suspect)
		}
		if len(excluded) > 0 {
			off := tensor.New(k)
			for _, e := range excluded {
				off.Data[e] = excludedLogit
			}
			if err := nn.SetHook(m, last, func(y *ag.Var) *ag.Var { return ag.Add(y, ag.Const(off)) }); err != nil {
				return nil, err
			}
		}
		renv := Env{Seed: env.Seed + uint64(r)}
		if r == 0 {
			renv.ASR, renv.Report = env.ASR, env.Report
		}
		if env.Progress != nil {
			renv.Progress = func(done, _ int, status string) {
				env.Progress(r*perRound+done, len(c.Probes)*perRound, fmt.Sprintf("round %d/%d (%s)  %s", r+1, len(c.Probes), probe, status))
			}
		}
		l := &loop{
			method: "cul", optimizer: "adam", lr: c.LR, wd: c.WeightDecay,
			epochs: c.Epochs, batch: c.BatchSize, train: c.TrainMode, stopAcc: stop,
			objective: maskedNegCE(excluded), perturb: c.perturbation(probe),
			afterRow: func(row Row) string {
				if row.Epoch > 0 && slices.Max(row.Share) >= c.Collapse {
					return "collapse"
				}
				return ""
			},
		}
		tr, err := l.run(ctx, m, d, renv)
		nn.SetHook(m, last, nil)
		if err != nil {
			return nil, err
		}
		final := tr.Final().Share
		for i, s := range final {
			score[i] += s
		}
		top := argmax(final)
		if r == 0 {
			trace = tr
			exposed = snapshot(m)
		}
		trace.Rounds = append(trace.Rounds, Round{Probe: probe, Excluded: slices.Clone(excluded),
			Collapse: top, Share: final, Epochs: tr.Final().Epoch, Stop: tr.Stop})
		peeled[top] = r + 1
		excluded = append(excluded, top)
		if len(excluded) >= k-1 {
			break
		}
	}
	restore(m, exposed)
	nn.SetTraining(m, false)
	// Peeled classes rank by their round, then the rest by mean share.
	n := float64(len(trace.Rounds))
	trace.Candidates = make([]Candidate, k)
	for i := range trace.Candidates {
		sc := score[i] / n
		if r := peeled[i]; r > 0 {
			sc = n - float64(r) + 1 + trace.Rounds[r-1].Share[i]
		}
		trace.Candidates[i] = Candidate{Label: i, Score: sc}
	}
	sortCandidates(trace.Candidates)
	return trace, nil
}

// excludedLogit is the offset that masks an excluded class's logit: far
// enough below any real logit that its softmax probability is 0 in float32,
// finite so that the loss of its own images stays finite.
const excludedLogit = -1e4

// maskedNegCE is the unlearning objective with the excluded classes' logits
// masked (through the hook): the cross-entropy of the remaining classes,
// averaged over the images whose true class is not excluded.
func maskedNegCE(excluded []int) func(*ag.Var, []int, *rand.Rand) (*ag.Var, float32) {
	if len(excluded) == 0 {
		return negCE
	}
	return func(logits *ag.Var, y []int, _ *rand.Rand) (*ag.Var, float32) {
		w := tensor.New(len(y))
		n := 0
		for i, c := range y {
			if !slices.Contains(excluded, c) {
				w.Data[i] = 1
				n++
			}
		}
		ce := ag.Scale(ag.Sum(ag.Mul(ag.CrossEntropyPerSample(logits, y), ag.Const(w))), 1/float32(max(n, 1)))
		return ag.Neg(ce), ce.Item()
	}
}

// snapshot copies every parameter and buffer of m.
func snapshot(m nn.Module) [][]float32 {
	sd := nn.StateDict(m)
	out := make([][]float32, len(sd))
	for i, e := range sd {
		out[i] = slices.Clone(e.Tensor.Data)
	}
	return out
}

// restore writes a snapshot back into m.
func restore(m nn.Module, s [][]float32) {
	for i, e := range nn.StateDict(m) {
		copy(e.Tensor.Data, s[i])
	}
}
