package remove

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"ebyd/data"
	"ebyd/expose"
	"ebyd/nn"
)

// RNP is Reconstructive Neuron Pruning (RNP main.py, dossier §7): unlearn
// the suspect model (expose.RNPUnlearn: SGD gradient ascent on the clean
// cross-entropy until defense accuracy is at most 0.2), learn channel masks
// on the unlearned model that recover its clean accuracy (MaskRecipe), and
// prune the channels with small masks in the original suspect model
// (Pruning: below Threshold, as far as the defense accuracy Budget allows).
//
// Guard: unlearning that diverges (a loss or weight that is no number, as
// the seed recipe does on a Blend mnistnet) restarts from the suspect model
// with half the learning rate, up to Retries times; the report notes it.
type RNP struct {
	Unlearn expose.RNPUnlearn `json:"unlearn"`
	Retries int               `json:"retries"`
	MaskRecipe
	Pruning
}

// EBYDRNP is RNP with the exposure in place of RNP's own unlearning: the
// masks are learned on the exposed model (Env.Exposed, e.g. CUL's) and
// prune the original suspect model.
type EBYDRNP struct {
	MaskRecipe
	Pruning
}

func defaultPruning() Pruning {
	return Pruning{Threshold: 0.2, Budget: 0.02, Finetune: defaultRecipe(0)}
}

func init() {
	register("rnp", func() Remover {
		return &RNP{
			Unlearn: expose.RNPUnlearn{LR: 0.01, Momentum: 0.9, WeightDecay: 5e-4, Epochs: 20, BatchSize: 128, StopAcc: 0.2},
			Retries: 3, MaskRecipe: defaultMasks(), Pruning: defaultPruning(),
		}
	})
	register("ebyd-rnp", func() Remover {
		// Pruning alone leaves most MNIST backdoors in place (see the
		// package documentation); ten epochs of fine-tuning that unlearn
		// the recovered trigger on a fifth of each batch take them out.
		p := defaultPruning()
		p.Finetune.Epochs, p.TriggerShare = 10, 0.2
		return &EBYDRNP{MaskRecipe: defaultMasks(), Pruning: p}
	})
}

func (c *RNP) check() error {
	if _, err := c.unlearner(c.Unlearn.LR); err != nil {
		return fmt.Errorf("unlearn: %w", err)
	}
	if c.Retries < 0 {
		return fmt.Errorf("retries %d: must not be negative", c.Retries)
	}
	if err := c.MaskRecipe.check(); err != nil {
		return err
	}
	return c.Pruning.check()
}

func (c *EBYDRNP) check() error {
	if err := c.MaskRecipe.check(); err != nil {
		return err
	}
	return c.Pruning.check()
}

// unlearner is expose's rnp-unlearn with c's parameters at learning rate lr.
func (c *RNP) unlearner(lr float64) (expose.Exposer, error) {
	u := c.Unlearn
	u.LR = lr
	p, err := json.Marshal(u)
	if err != nil {
		return nil, err
	}
	return expose.New("rnp-unlearn", p)
}

func (c *RNP) Remove(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Report, error) {
	rep, ds, err := begin("rnp", m, d)
	if err != nil {
		return nil, err
	}
	tk := &ticker{env: env}
	suspect := take(m)
	lr := c.Unlearn.LR
	for try := 0; ; try++ {
		u, err := c.unlearner(lr)
		if err != nil {
			return nil, err
		}
		base := tk.done
		tr, err := u.Expose(ctx, m, d, expose.Env{Seed: env.Seed, Progress: func(done, total int, status string) {
			tk.total = max(tk.total, base+total+c.MaskRecipe.steps(ds.N))
			tk.done = base + done - 1
			tk.tick("unlearn: " + status)
		}})
		if err == nil {
			for _, r := range tr.Rows[1:] {
				rep.Rows = append(rep.Rows, Row{Stage: "unlearn", Epoch: r.Epoch, DefenseAcc: r.DefenseAcc, Loss: r.Loss})
			}
			rep.Notes = append(rep.Notes, fmt.Sprintf("unlearning at lr %g stopped after %d epochs (%s) at defense accuracy %.4f", lr, len(tr.Rows)-1, tr.Stop, tr.Final().DefenseAcc))
			break
		}
		if ctx.Err() != nil || try >= c.Retries {
			return nil, err
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("unlearning at lr %g failed (%v); restarting at lr %g", lr, err, lr/2))
		if err := suspect.restore(m); err != nil {
			return nil, err
		}
		lr /= 2
	}
	order, err := c.MaskRecipe.learn(ctx, m, ds, env, rep, tk)
	if err != nil {
		return nil, err
	}
	rep.Scores = order
	if err := suspect.restore(m); err != nil {
		return nil, err
	}
	if err := c.Pruning.pruneAll(ctx, m, order, ds, env, rep, tk); err != nil {
		return nil, err
	}
	return rep.end(m, ds)
}

func (c *EBYDRNP) Remove(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Report, error) {
	if env.Exposed == nil {
		return nil, errors.New("ebyd-rnp learns its masks on the exposed model: give one (ebyd remove --exposed DIR)")
	}
	rep, ds, err := begin("ebyd-rnp", m, d)
	if err != nil {
		return nil, err
	}
	if env.Trigger == nil && c.TriggerShare > 0 && c.Finetune.Epochs > 0 {
		rep.Notes = append(rep.Notes, "no recovered trigger given: the fine-tuning after pruning is plain (give ebyd remove --trigger DIR)")
	}
	tk := &ticker{env: env, total: c.MaskRecipe.steps(ds.N) + c.Pruning.steps(ds.N)}
	order, err := c.MaskRecipe.learn(ctx, env.Exposed, ds, env, rep, tk)
	if err != nil {
		return nil, fmt.Errorf("masks on the exposed model: %w", err)
	}
	rep.Scores = order
	if err := c.Pruning.pruneAll(ctx, m, order, ds, env, rep, tk); err != nil {
		return nil, err
	}
	return rep.end(m, ds)
}
