package expose

import (
	"context"
	"fmt"

	"ebyd/data"
	"ebyd/nn"
)

// RNPUnlearn is the neuron-level unlearning step of RNP (Reconstructive
// Neuron Pruning, main.py), the code path EBYD's exposes/expose.py repeats:
// gradient ascent on the clean cross-entropy with every parameter, SGD lr
// 0.01, momentum 0.9, coupled weight decay 5e-4, MultiStepLR milestones
// [10, 20] γ 0.1, batch 128, up to 20 epochs in training mode (BatchNorm
// batch statistics, running statistics updated; dropout on), stopping
// after the first epoch whose defense accuracy is at most 0.2.
//
// Departure: RNP's stop statistic is the training accuracy counted on the
// fly (training mode, predictions before each step); here it is the
// defense accuracy of the trace row, measured in evaluation mode after the
// epoch, the same statistic every method's stop rule uses.
type RNPUnlearn struct {
	LR          float64 `json:"lr"`
	Momentum    float64 `json:"momentum"`
	WeightDecay float64 `json:"weight_decay"`
	Epochs      int     `json:"epochs"`
	BatchSize   int     `json:"batch_size"`
	StopAcc     float64 `json:"stop_acc"`
}

func init() {
	register("rnp-unlearn", func() Exposer {
		return &RNPUnlearn{LR: 0.01, Momentum: 0.9, WeightDecay: 5e-4, Epochs: 20, BatchSize: 128, StopAcc: 0.2}
	})
}

func (c *RNPUnlearn) check() error {
	if c.Momentum < 0 || c.Momentum >= 1 {
		return fmt.Errorf("momentum %g: must be in [0, 1)", c.Momentum)
	}
	if c.StopAcc < 0 || c.StopAcc > 1 {
		return fmt.Errorf("stop_acc %g: must be in [0, 1]", c.StopAcc)
	}
	return checkCommon(c.LR, c.WeightDecay, c.Epochs, c.BatchSize)
}

func (c *RNPUnlearn) Expose(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Trace, error) {
	l := &loop{
		method: "rnp-unlearn", optimizer: "sgd", lr: c.LR, momentum: c.Momentum, wd: c.WeightDecay,
		milestones: []int{10, 20}, gamma: 0.1, epochs: c.Epochs, batch: c.BatchSize,
		train: true, stopAcc: c.StopAcc, objective: negCE,
	}
	return l.run(ctx, m, d, env)
}

// Rate and SetRate implement Stepped.
func (c *RNPUnlearn) Rate() float64 { return c.LR }

func (c *RNPUnlearn) SetRate(lr float64) { c.LR = lr }
