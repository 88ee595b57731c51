package expose

import (
	"context"
	"math/rand/v2"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/nn"
)

// ConfusionFT is the seed's ShuffleFT (exposes/sfft.py), the "Confusion
// FT" of the EBYD figure: fine-tune every parameter to minimise the
// cross-entropy to uniformly random labels, drawn afresh for every
// minibatch from the seed. Adam lr 1e-4, coupled weight decay 5e-4, batch
// 128, 20 epochs, evaluation mode during the updates as in the seed (see
// CULSeed), no stop rule by default. Confusing the clean mapping erodes
// clean features faster than the trigger's shortcut.
type ConfusionFT struct {
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	Epochs      int     `json:"epochs"`
	BatchSize   int     `json:"batch_size"`
	TrainMode   bool    `json:"train_mode"`
	// StopAcc, when positive, stops after the first epoch whose defense
	// accuracy is at most StopAcc.
	StopAcc float64 `json:"stop_acc"`
}

func init() {
	register("confusion-ft", func() Exposer {
		return &ConfusionFT{LR: 1e-4, WeightDecay: 5e-4, Epochs: 20, BatchSize: 128}
	})
}

func (c *ConfusionFT) check() error {
	return checkCommon(c.LR, c.WeightDecay, c.Epochs, c.BatchSize)
}

func (c *ConfusionFT) Expose(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Trace, error) {
	stop := -1.0
	if c.StopAcc > 0 {
		stop = c.StopAcc
	}
	k := d.Classes()
	l := &loop{
		method: "confusion-ft", optimizer: "adam", lr: c.LR, wd: c.WeightDecay,
		milestones: []int{20, 20}, gamma: 0.1, epochs: c.Epochs, batch: c.BatchSize,
		train: c.TrainMode, stopAcc: stop,
		objective: func(logits *ag.Var, y []int, r *rand.Rand) (*ag.Var, float32) {
			random := make([]int, len(y))
			for i := range random {
				random[i] = r.IntN(k)
			}
			ce := ag.CrossEntropy(logits, random)
			return ce, ce.Item()
		},
	}
	return l.run(ctx, m, d, env)
}
