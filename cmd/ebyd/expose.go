package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"ebyd/expose"
	"ebyd/run"
)

func newExposeCmd(g *globals) *cobra.Command {
	var cfg run.ExposeConfig
	var params []string
	var out string
	var force bool
	c := &cobra.Command{
		Use:   "expose",
		Short: "Expose a suspect model's backdoor by editing it on clean data",
		Long: `Expose the backdoor of a suspect run's model ("Expose Before You Defend"):
edit the model using only a seeded random subset of clean training images
(the defense set, --defense-size, 500 by default) until its backdoor shows,
and write the exposed model into a new run folder whose parent is the
suspect run.

Methods (--method, default ` + expose.Default + `):
  cul           Clean Unlearning engineered to find the target: unlearning on
                noisy or brightness-shifted defense images (which wake a
                backdoor's pathway), in rounds that mask out the class each
                earlier round collapsed onto; ranks every label as a
                candidate target (go doc ebyd/expose.CUL)
  cul-seed      the seed's Clean Unlearning exactly: Adam lr 1e-5, weight
                decay 5e-4, 20 epochs, batch 128, eval-mode BatchNorm
  confusion-ft  fine-tuning to random labels (Adam lr 1e-4, 20 epochs)
  act-prune     masking the channels with the lowest mean activation,
                rates 0, 0.1, ..., 0.9 (default layer: the logits)
  awp           adversarial perturbation of BatchNorm channels (conv and
                hidden dense units without BatchNorm), noise bounds 0..0.9
  rnp-unlearn   RNP's unlearning: SGD lr 0.01, momentum 0.9, train mode,
                stop at defense accuracy 0.2

--param NAME=VALUE sets a method parameter (run.json lists them all with
their defaults). The folder holds model.safetensors (the exposed model),
trace.csv (one row per epoch, rate or level: defense accuracy, loss, lr and
the share of defense images predicted as each class), defense_indices.json
and candidates.json (the labels ranked as backdoor targets). The predicted
target is the label the exposed model predicts most on the defense images.

--with-asr also measures the attack success rate of the suspect run's own
trigger after every row; that is the evaluator's measurement, made here in
the stage, never by the exposure method, which sees clean data only.`,
		Example: `  ebyd expose --run runs/badnets --out runs/badnets-cul
  ebyd expose --run runs/badnets --method cul-seed --with-asr --out runs/badnets-cul-seed
  ebyd expose --run runs/blend --method awp --param levels=[0,0.2,0.4] --out runs/blend-awp`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			p, err := methodParams(params)
			if err != nil {
				return err
			}
			cfg.Params = p
			if out == "" {
				return usageError{fmt.Errorf("no output folder given: --out DIR")}
			}
			res, err := run.Expose(c.Context(), cfg, options(c, g, out, force))
			if err != nil {
				return err
			}
			return reportExpose(c, g, res)
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Run, "run", "", "suspect run folder whose model is exposed (required)")
	f.StringVar(&cfg.Method, "method", expose.Default, "exposure method: "+strings.Join(expose.Names(), ", "))
	f.StringArrayVar(&params, "param", nil, "set a method parameter, NAME=VALUE (repeatable; VALUE is JSON or a bare word), e.g. --param lr=1e-4")
	f.IntVar(&cfg.DefenseSize, "defense-size", run.DefaultDefenseSize, "clean training images the defender gets")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the defense set and of the method's random draws")
	f.BoolVar(&cfg.WithASR, "with-asr", false, "also measure the suspect run's attack success rate after every trace row (the evaluator's view)")
	f.IntVar(&cfg.TestSubset, "test-subset", 0, "with --with-asr, measure ASR on a seeded random subset of this many test images (0: the run's own test images)")
	f.IntVar(&cfg.EvalBatch, "eval-batch", run.DefaultEvalBatch, "images per evaluation batch")
	f.StringVar(&out, "out", "", "run folder to write; its parent must exist (required)")
	f.BoolVar(&force, "force", false, "replace an existing run folder at --out")
	_ = c.MarkFlagRequired("run")
	return c
}

// methodParams builds the JSON object of --param NAME=VALUE flags: VALUE
// is read as JSON when it parses (numbers, booleans, lists), else as a
// string.
func methodParams(kvs []string) (json.RawMessage, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	p := map[string]any{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("--param %q: want NAME=VALUE", kv)}
		}
		var val any
		if err := json.Unmarshal([]byte(v), &val); err != nil {
			val = v
		}
		p[k] = val
	}
	return json.Marshal(p)
}

func reportExpose(c *cobra.Command, g *globals, res *run.ExposeResult) error {
	m := res.Manifest
	share := make([]string, len(res.ClassShare))
	for k, s := range res.ClassShare {
		share[k] = strconv.Itoa(k) + ":" + strconv.FormatFloat(100*s, 'f', 0, 64)
	}
	var cands, rounds []string
	for i, cd := range res.Candidates {
		if i == 4 {
			break
		}
		cands = append(cands, fmt.Sprintf("%d (%.3g)", cd.Label, cd.Score))
	}
	for _, r := range res.Rounds {
		rounds = append(rounds, fmt.Sprintf("%s → %d (%.0f%%, %d epochs)", r.Probe, r.Collapse, 100*r.Share[r.Collapse], r.Epochs))
	}
	rows := []row{
		{"run", res.Dir},
		{"suspect", res.Parent},
		{"method", fmt.Sprintf("%s (%s)", res.Method, string(mustJSON(m)))},
		{"defense", fmt.Sprintf("%d clean training images, seed %d", res.DefenseSize, m.Seed)},
		{"defense acc", fmt.Sprintf("%s → %s after %d row(s), stopped: %s", pct(res.InitialDefenseAcc), pct(res.DefenseAcc), res.Rows, res.Stop)},
		{"predicted target", fmt.Sprintf("%d (%s of the defense images)", res.PredictedTarget, pct(res.ClassShare[res.PredictedTarget]))},
		{"class share %", strings.Join(share, " ")},
		{"candidates", strings.Join(cands, ", ")},
	}
	if len(rounds) > 0 {
		rows = append(rows, row{"rounds", strings.Join(rounds, "; ")})
	}
	if res.ASR != nil {
		rows = append(rows, row{"ASR", fmt.Sprintf("%s → %s (the suspect's own trigger)", pct(*res.InitialASR), pct(*res.ASR))})
	}
	rows = append(rows,
		row{"time", dur(res.Seconds)},
		row{"engine", fmt.Sprintf("%s BLAS, %s convolutions, GOMAXPROCS %d", m.Engine.BLAS, m.Engine.Conv, m.Engine.GOMAXPROCS)})
	return report(c, g, rows, res)
}

// mustJSON is the method's parameters from an expose manifest.
func mustJSON(m *run.Manifest) json.RawMessage {
	var cfg run.ExposeConfig
	if json.Unmarshal(m.Config, &cfg) != nil || len(cfg.Params) == 0 {
		return json.RawMessage("{}")
	}
	return cfg.Params
}
