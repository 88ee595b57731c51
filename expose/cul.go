package expose

import (
	"context"
	"fmt"
	"strings"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/nn"
)

// CUL is Clean Unlearning engineered to expose the target.
type CUL struct {
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	Epochs      int     `json:"epochs"`
	BatchSize   int     `json:"batch_size"`
	TrainMode   bool    `json:"train_mode"`
	StopAcc     float64 `json:"stop_acc"` // 0: chance, 1/K
	Part        string  `json:"part"`
	Optimizer   string  `json:"optimizer"`
}

func init() {
	register("cul", func() Exposer {
		return &CUL{LR: 1e-4, WeightDecay: 5e-4, Epochs: 20, BatchSize: 128, Part: "all", Optimizer: "adam"}
	})
}

func (c *CUL) check() error {
	return checkCommon(c.LR, c.WeightDecay, c.Epochs, c.BatchSize)
}

// selectParams picks the parameters of a part of the network.
func selectParams(m nn.Module, part string) ([]*ag.Var, error) {
	last, _ := nn.LastLinear(m)
	var out []*ag.Var
	for _, p := range nn.Params(m) {
		name := p.Name
		mod := name[:strings.LastIndex(name, ".")]
		isBias := strings.HasSuffix(name, ".bias")
		sel := false
		switch part {
		case "all":
			sel = true
		case "hidden":
			sel = mod != last
		case "classifier":
			sel = mod == last
		case "bias":
			sel = isBias && mod != last
		case "conv":
			sel = strings.HasPrefix(name, "conv")
		case "fc":
			sel = strings.HasPrefix(name, "fc")
		case "fc1":
			sel = strings.HasPrefix(name, "fc1")
		default:
			return nil, fmt.Errorf("unknown part %q", part)
		}
		if sel {
			out = append(out, p.Var)
		}
	}
	return out, nil
}

func (c *CUL) Expose(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Trace, error) {
	ps, err := selectParams(m, c.Part)
	if err != nil {
		return nil, err
	}
	stop := c.StopAcc
	if stop == 0 {
		stop = 1 / float64(d.Classes())
	}
	l := &loop{
		method: "cul", optimizer: c.Optimizer, lr: c.LR, wd: c.WeightDecay, momentum: 0.9,
		epochs: c.Epochs, batch: c.BatchSize,
		train: c.TrainMode, stopAcc: stop, objective: negCE, params: ps,
	}
	return l.run(ctx, m, d, env)
}
