package expose

import (
	"context"
	"fmt"
	"math"
	"sort"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/nn"
)

// ActPrune is the seed's activation-based sparsification
// (exposes/act_prune.py), Fine-Pruning's "prune dormant neurons" without
// the fine-tuning. For each rate of Rates (default 0, 0.1, …, 0.9), the
// defense images run through the model in evaluation mode, each output
// channel of the pruned layer gets its mean activation (over images, and
// over positions for a convolution), and the ⌊C·rate⌋ channels with the
// lowest mean are masked off, on top of the masks of the earlier rates (the
// seed's masks compound, and each rate's statistics are measured through
// them). A trace row follows each rate.
//
// Layer is the layer pruned: "" (the default) is the classifier, the last
// dense layer, whose outputs are the logits (the seed's default layer
// "linear"); "hidden" prunes every gated hidden layer (nn.ChannelGates:
// BatchNorm channels, or conv channels and hidden dense units), each at
// the rate; otherwise a module path.
//
// Departure: a masked channel outputs its bias (nn.Gate, the way RNP prunes
// a BatchNorm channel) where the seed multiplies the whole output by 0; on
// the logit layer that leaves a pruned class its bias logit instead of 0.
type ActPrune struct {
	Layer string    `json:"layer"`
	Rates []float64 `json:"rates"`
}

func init() {
	register("act-prune", func() Exposer {
		return &ActPrune{Rates: []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}}
	})
}

func (a *ActPrune) check() error {
	if len(a.Rates) == 0 {
		return fmt.Errorf("rates: give at least one pruning rate")
	}
	for _, r := range a.Rates {
		if !(r >= 0 && r < 1) {
			return fmt.Errorf("rates: %g is not in [0, 1)", r)
		}
	}
	return nil
}

func (a *ActPrune) Expose(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Trace, error) {
	var gates *nn.Gates
	var err error
	switch a.Layer {
	case "hidden":
		gates, err = nn.ChannelGates(m)
	case "":
		var last string
		if last, err = nn.LastLinear(m); err == nil {
			gates, err = nn.NewGates(m, last)
		}
	default:
		gates, err = nn.NewGates(m, a.Layer)
	}
	if err != nil {
		return nil, err
	}
	defer gates.Remove()
	ds := d.Data()
	tr := &Trace{Method: "act-prune", Stop: "rates"}
	rec := &recorder{m: m, ds: ds, env: env, trace: tr}
	sums := make(map[*nn.Gate][]float64, len(gates.List))
	gates.Watch(func(gt *nn.Gate, out *ag.Var) {
		s := sums[gt]
		v := out.Value
		per := v.Len() / (v.Shape[0] * gt.Channels) // positions per channel and image
		for n := range v.Shape[0] {
			for c := range gt.Channels {
				base := (n*gt.Channels + c) * per
				for _, x := range v.Data[base : base+per] {
					s[c] += float64(x)
				}
			}
		}
	})
	for i, rate := range a.Rates {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("act-prune stopped at rate %g: %w", rate, context.Cause(ctx))
		}
		for _, gt := range gates.List {
			sums[gt] = make([]float64, gt.Channels)
		}
		// The statistics pass is also the evaluation of the previous rate's
		// masks; the row below re-evaluates with this rate's.
		if _, _, err := predict(m, ds); err != nil {
			return nil, err
		}
		for _, gt := range gates.List {
			k := int(math.Floor(float64(gt.Channels) * rate))
			order := make([]int, gt.Channels)
			for c := range order {
				order[c] = c
			}
			s := sums[gt]
			sort.SliceStable(order, func(x, y int) bool { return s[order[x]] < s[order[y]] })
			for _, c := range order[:k] {
				gt.Mask.Value.Data[c] = 0
			}
		}
		if _, err := rec.row(i, rate, 0, nil); err != nil {
			return nil, err
		}
		env.progress(i+1, len(a.Rates), fmt.Sprintf("rate %.2f", rate))
	}
	gates.Watch(nil)
	gates.Fold()
	nn.SetTraining(m, false)
	tr.Candidates = rankByShare(tr.Final().Share)
	return tr, nil
}
