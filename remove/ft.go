package remove

import (
	"context"

	"ebyd/data"
	"ebyd/nn"
)

// FT fine-tunes the suspect model on the defense images (Recipe: SGD lr
// 0.01, momentum 0.9, weight decay 5e-4, batch 128, 10 epochs, training
// mode, gradient norm clipped to 20): the baseline every removal should
// beat.
type FT struct{ Recipe }

func init() {
	register("ft", func() Remover { return &FT{defaultRecipe(10)} })
}

func (c *FT) check() error { return c.Recipe.check(false) }

func (c *FT) Remove(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Report, error) {
	rep, ds, err := begin("ft", m, d)
	if err != nil {
		return nil, err
	}
	f := c.Recipe.stage("finetune")
	tk := &ticker{env: env, total: f.steps(ds.N)}
	if err := f.run(ctx, m, ds, env, rep, tk); err != nil {
		return nil, err
	}
	return rep.end(m, ds)
}
