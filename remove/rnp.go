package remove

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"ebyd/data"
	"ebyd/nn"
)

// RNP is Reconstructive Neuron Pruning (RNP main.py, dossier §7): unlearn
// the suspect model (SGD gradient ascent on the clean cross-entropy until
// defense accuracy is at most 0.2: expose's rnp-unlearn), learn channel
// masks on the unlearned model that recover its clean accuracy
// (MaskRecipe), and prune the channels with small masks in the original
// suspect model (Pruning: below Threshold, as far as the defense accuracy
// Budget allows).
//
// The unlearning is an exposure, and exposure sits above removal: the
// caller runs it (Unlearner; run.Remove does) and hands the unlearned
// model in as Env.Exposed. Guard: unlearning that diverges (a loss or
// weight that is no number, as the seed recipe does on a Blend mnistnet)
// is restarted from the suspect model with half the learning rate, up to
// Retries times.
type RNP struct {
	// Unlearn holds the parameters of expose's rnp-unlearn.
	Unlearn json.RawMessage `json:"unlearn"`
	Retries int             `json:"retries"`
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

// An Unlearner is a Remover that works from an unlearned copy of the
// suspect model: its caller runs the exposure method Unlearning names,
// with those parameters, on a copy of the suspect, hands the result in as
// Env.Exposed, and on a diverging run retries with the learning rate
// ("lr") halved, up to retries times.
type Unlearner interface {
	Remover
	Unlearning() (method string, params json.RawMessage, retries int)
}

func defaultPruning() Pruning {
	return Pruning{Threshold: 0.2, Budget: 0.02, Finetune: defaultRecipe(0)}
}

func init() {
	register("rnp", func() Remover {
		return &RNP{
			Unlearn: json.RawMessage(rnpUnlearn),
			Retries: 3, MaskRecipe: defaultMasks(), Pruning: defaultPruning(),
		}
	})
	register("ebyd-rnp", func() Remover {
		// Pruning alone leaves most MNIST backdoors in place (see
		// docs/removal.md); ten epochs of fine-tuning that unlearn
		// the recovered trigger on a fifth of each batch take them out.
		p := defaultPruning()
		p.Finetune.Epochs, p.TriggerShare = 10, 0.2
		return &EBYDRNP{MaskRecipe: defaultMasks(), Pruning: p}
	})
}

// rnpUnlearn is RNP's unlearning recipe, expose's rnp-unlearn defaults.
const rnpUnlearn = `{"lr":0.01,"momentum":0.9,"weight_decay":0.0005,"epochs":20,"batch_size":128,"stop_acc":0.2}`

// check fills the unlearning parameters left out with RNP's and checks
// what remove can; the exposure method checks the rest when it runs.
func (c *RNP) check() error {
	var obj, given map[string]any
	if err := json.Unmarshal([]byte(rnpUnlearn), &obj); err != nil {
		return err
	}
	if err := json.Unmarshal(c.Unlearn, &given); err != nil || given == nil {
		return fmt.Errorf("unlearn: want a JSON object of rnp-unlearn's parameters, got %s", c.Unlearn)
	}
	for k, v := range given {
		obj[k] = v
	}
	if lr, ok := obj["lr"].(float64); !ok || !(lr > 0) {
		return fmt.Errorf("unlearn: lr %v: want a positive number", obj["lr"])
	}
	if a, ok := obj["stop_acc"].(float64); !ok || a < 0 || a > 1 {
		return fmt.Errorf("unlearn: stop_acc %v: want a number in [0, 1]", obj["stop_acc"])
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	c.Unlearn = b
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

// Unlearning implements Unlearner.
func (c *RNP) Unlearning() (string, json.RawMessage, int) { return "rnp-unlearn", c.Unlearn, c.Retries }

func (c *RNP) Remove(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Report, error) {
	if env.Exposed == nil {
		return nil, errors.New("rnp learns its masks on the suspect model after RNP's unlearning: run rnp-unlearn first and give its model as Env.Exposed (run.Remove does)")
	}
	return maskPrune(ctx, "rnp", m, d, env, c.MaskRecipe, c.Pruning)
}

func (c *EBYDRNP) Remove(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Report, error) {
	if env.Exposed == nil {
		return nil, errors.New("ebyd-rnp learns its masks on the exposed model: give one (ebyd remove --exposed DIR)")
	}
	return maskPrune(ctx, "ebyd-rnp", m, d, env, c.MaskRecipe, c.Pruning)
}

// maskPrune learns masks on env.Exposed and prunes m by them.
func maskPrune(ctx context.Context, method string, m nn.Module, d *data.Defense, env Env, masks MaskRecipe, p Pruning) (*Report, error) {
	rep, ds, err := begin(method, m, d)
	if err != nil {
		return nil, err
	}
	if env.Trigger == nil && p.TriggerShare > 0 && p.Finetune.Epochs > 0 {
		rep.Notes = append(rep.Notes, "no recovered trigger given: the fine-tuning after pruning is plain (give ebyd remove --trigger DIR)")
	}
	tk := &ticker{env: env, total: masks.steps(ds.N) + p.steps(ds.N)}
	order, err := masks.learn(ctx, env.Exposed, ds, env, rep, tk)
	if err != nil {
		return nil, fmt.Errorf("masks on the given model (Env.Exposed): %w", err)
	}
	rep.Scores = order
	if err := p.pruneAll(ctx, m, order, ds, env, rep, tk); err != nil {
		return nil, err
	}
	return rep.end(m, ds)
}
