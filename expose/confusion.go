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
type ConfusionFT struct{ adamRecipe }

func init() {
	register("confusion-ft", func() Exposer {
		return &ConfusionFT{adamRecipe{LR: 1e-4, WeightDecay: 5e-4, Epochs: 20, BatchSize: 128}}
	})
}

func (c *ConfusionFT) Expose(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Trace, error) {
	k := d.Classes()
	return c.loop("confusion-ft", func(logits *ag.Var, y []int, r *rand.Rand) (*ag.Var, float32) {
		random := make([]int, len(y))
		for i := range random {
			random[i] = r.IntN(k)
		}
		ce := ag.CrossEntropy(logits, random)
		return ce, ce.Item()
	}).run(ctx, m, d, env)
}
