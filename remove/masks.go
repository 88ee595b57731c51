package remove

import (
	"context"
	"fmt"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/nn"
	"ebyd/tensor"
)

// MaskRecipe is RNP's filter-level recovering (RNP main.py, dossier §7.2):
// a mask in [0, 1] on every gated channel (nn.ChannelGates: BatchNorm
// channels, or conv channels and hidden dense units without BatchNorm),
// starting at 1, trained alone by SGD on Alpha·CE of the defense images,
// clamped to [0, 1] after every step. On a model that has lost its clean
// accuracy (unlearned or exposed), the masks that fall are the channels
// the recovery does without: the backdoor's.
type MaskRecipe struct {
	MaskLR       float64 `json:"mask_lr"`
	MaskMomentum float64 `json:"mask_momentum"`
	Alpha        float64 `json:"alpha"`
	MaskEpochs   int     `json:"mask_epochs"`
	MaskBatch    int     `json:"mask_batch_size"`
	// MaskTrainMode learns the masks in training mode (BatchNorm batch
	// statistics and dropout), as RNP does.
	MaskTrainMode bool `json:"mask_train_mode"`
}

func defaultMasks() MaskRecipe {
	return MaskRecipe{MaskLR: 0.2, MaskMomentum: 0.9, Alpha: 0.2, MaskEpochs: 20, MaskBatch: 128, MaskTrainMode: true}
}

func (r MaskRecipe) check() error {
	switch {
	case !(r.MaskLR > 0):
		return fmt.Errorf("mask_lr %g: must be positive", r.MaskLR)
	case r.MaskMomentum < 0 || r.MaskMomentum >= 1:
		return fmt.Errorf("mask_momentum %g: must be in [0, 1)", r.MaskMomentum)
	case !(r.Alpha > 0):
		return fmt.Errorf("alpha %g: must be positive", r.Alpha)
	case r.MaskEpochs < 1 || r.MaskBatch < 1:
		return fmt.Errorf("mask_epochs %d, mask_batch_size %d: each must be at least 1", r.MaskEpochs, r.MaskBatch)
	}
	return nil
}

// steps is the number of mask-learning steps on n images.
func (r MaskRecipe) steps(n int) int { return epochSteps(r.MaskEpochs, r.MaskBatch, n) }

// stage is the mask-learning stage on gates.
func (r MaskRecipe) stage(m nn.Module, gates *nn.Gates) *stage {
	masks := gates.Masks()
	return &stage{
		name: "masks", lr: r.MaskLR, momentum: r.MaskMomentum, epochs: r.MaskEpochs, batch: r.MaskBatch,
		train: r.MaskTrainMode, params: masks, seed: 0x6d61736b, // "mask"
		objective: func(x *tensor.Tensor, y []int) (*ag.Var, float32) {
			l := ag.CrossEntropy(m.Forward(ag.Const(x)), y)
			return ag.Scale(l, float32(r.Alpha)), l.Item()
		},
		after: func() { clampMasks(masks) },
	}
}

func clampMasks(masks []*ag.Var) {
	for _, v := range masks {
		for i, x := range v.Value.Data {
			v.Value.Data[i] = min(1, max(0, x))
		}
	}
}

// learn trains masks on m and returns every gated channel with its mask,
// ascending. m's weights are unchanged; its gates are removed.
func (r MaskRecipe) learn(ctx context.Context, m nn.Module, ds *data.Dataset, env Env, rep *Report, tk *ticker) ([]Channel, error) {
	gates, err := nn.ChannelGates(m)
	if err != nil {
		return nil, err
	}
	defer gates.Remove()
	if err := r.stage(m, gates).run(ctx, m, ds, env, rep, tk); err != nil {
		return nil, err
	}
	return gateValues(gates, func(g *nn.Gate, c int) float64 { return float64(g.Mask.Value.Data[c]) }), nil
}

// gateValues lists every channel of gates with its score, ascending.
func gateValues(gates *nn.Gates, score func(g *nn.Gate, c int) float64) []Channel {
	var out []Channel
	for _, g := range gates.List {
		for c := range g.Channels {
			out = append(out, Channel{Layer: g.Path, Index: c, Value: score(g, c)})
		}
	}
	sortChannels(out)
	return out
}

// Pruning prunes the suspect model's channels in a score order, as far as
// the defense images allow (Cut), then optionally fine-tunes it with the
// pruned channels held at 0.
type Pruning struct {
	// Threshold: only channels scoring below it are candidates (RNP's
	// operating point 0.2 for masks).
	Threshold float64 `json:"threshold"`
	// Budget is the most defense accuracy the pruning may cost (a fraction:
	// 0.02 is 2 points).
	Budget float64 `json:"budget"`
	// Finetune runs after the pruning when its Epochs is positive.
	Finetune Recipe `json:"finetune"`
	// TriggerShare is the share of each fine-tuning batch that carries the
	// recovered trigger (Env.Trigger), labels kept; 0, or no trigger, is
	// plain fine-tuning.
	TriggerShare float64 `json:"trigger_share"`
}

func (p Pruning) check() error {
	switch {
	case !(p.Threshold > 0):
		return fmt.Errorf("threshold %g: must be positive", p.Threshold)
	case !(p.Budget >= 0 && p.Budget <= 1):
		return fmt.Errorf("budget %g: must be in [0, 1]", p.Budget)
	case !(p.TriggerShare >= 0 && p.TriggerShare <= 1):
		return fmt.Errorf("trigger_share %g: must be in [0, 1]", p.TriggerShare)
	}
	if err := p.Finetune.check(true); err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	return nil
}

// cutScan is the number of evenly spaced prefixes the cut tries first.
const cutScan = 16

// prune applies the cut to m, whose gates are gates (all masks at 1),
// along order, fine-tunes, and folds the gates into the weights.
func (p Pruning) prune(ctx context.Context, m nn.Module, gates *nn.Gates, order []Channel, maxScore *float64, ds *data.Dataset, env Env, rep *Report, tk *ticker) error {
	rep.Gated = gates.Channels()
	rule := cutRule{maxScore: maxScore, budget: p.Budget, scan: cutScan}
	cut, pruned, err := rule.apply(m, gates, order, ds)
	if err != nil {
		return err
	}
	rep.Cut, rep.Pruned = cut, pruned
	if p.Finetune.Epochs > 0 {
		// The gates stay on while fine-tuning, so pruned channels stay
		// pruned: their masks are not among the parameters trained.
		f := p.Finetune.stage("finetune")
		if t := env.Trigger; t != nil && p.TriggerShare > 0 {
			if err := t.check(ds); err != nil {
				return err
			}
			f.objective = stampedCE(m, t, p.TriggerShare, ds)
			rep.Notes = append(rep.Notes, fmt.Sprintf("fine-tuning with the recovered trigger on %.0f%% of each batch", 100*p.TriggerShare))
		}
		if err := f.run(ctx, m, ds, env, rep, tk); err != nil {
			return err
		}
	}
	gates.Fold()
	return nil
}

// pruneAll is prune on every gated channel of m (nn.ChannelGates).
func (p Pruning) pruneAll(ctx context.Context, m nn.Module, order []Channel, ds *data.Dataset, env Env, rep *Report, tk *ticker) error {
	gates, err := nn.ChannelGates(m)
	if err != nil {
		return err
	}
	defer gates.Remove()
	return p.prune(ctx, m, gates, order, &p.Threshold, ds, env, rep, tk)
}

// steps is the most fine-tuning steps prune takes on n images.
func (p Pruning) steps(n int) int {
	return epochSteps(p.Finetune.Epochs, p.Finetune.BatchSize, n)
}
