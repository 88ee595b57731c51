package expose

import (
	"context"

	"ebyd/data"
	"ebyd/nn"
)

// CULSeed is Clean Unlearning exactly as the seed implements it
// (exposes/unlearn.py): gradient ascent on the clean cross-entropy of the
// defense images with every parameter, Adam lr 1e-5 with coupled weight
// decay 5e-4 (the L2 term is added to the gradient of −CE), batch 128, 20
// epochs, no stop rule. Its scheduler (milestones [20, 20]) never changes
// the rate within the 20 epochs, so the rate is constant.
//
// The network stays in evaluation mode during the updates ("eval-mode BN",
// the seed's accidental but documented behaviour: its first evaluation
// calls net.eval() and nothing switches back): BatchNorm normalises with the
// suspect model's frozen running statistics and dropout is off. TrainMode
// switches to training mode instead. The seed's gradient clipping is a
// no-op (called before backward) and is left out.
type CULSeed struct{ adamRecipe }

func init() {
	register("cul-seed", func() Exposer {
		return &CULSeed{adamRecipe{LR: 1e-5, WeightDecay: 5e-4, Epochs: 20, BatchSize: 128}}
	})
}

func (c *CULSeed) Expose(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Trace, error) {
	return c.loop("cul-seed", negCE).run(ctx, m, d, env)
}
