package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"ebyd/remove"
	"ebyd/run"
)

func newRemoveCmd(g *globals) *cobra.Command {
	var cfg run.RemoveConfig
	var params []string
	var paramsJSON, out string
	var force bool
	c := &cobra.Command{
		Use:   "remove",
		Short: "Remove a suspect model's backdoor, using clean data and (ebyd-rnp) the exposed model",
		Long: `Remove the backdoor of a suspect run's model and write the cleaned model into
a new run folder whose parent is the suspect run. The method sees only a
seeded random subset of clean training images (the defense set: the exposed
run's own with --exposed, else --defense-size images drawn from --seed); the
clean accuracy and attack success rate of the run's own trigger, before and
after, are the evaluator's, measured here outside the method.

Methods (--method, default ` + remove.Default + `):
  ebyd-rnp  learn per-channel masks on the exposed model (--exposed, an
            ebyd expose run of --run) that recover its clean accuracy, and
            prune the channels with small masks in the suspect model
  rnp       RNP: its own unlearning (SGD lr 0.01 until defense accuracy
            0.2), then the same masks and pruning
  anp       adversarial neuron pruning: masks under adversarial channel
            noise (eps 0.4, alpha 0.2, 2000 iterations), then the pruning
  fp        fine-pruning: prune the last convolution's most dormant
            channels, then fine-tune 10 epochs
  ft        fine-tune 10 epochs (SGD lr 0.01, momentum 0.9, wd 5e-4)
  nad       attention distillation from a fine-tuned teacher (beta 5000)
  ibau      adversarial unlearning of a universal perturbation, 5 rounds

Pruning point: channels are ordered by mask value (mean activation for fp);
of those below --param threshold (0.2), the longest prefix is pruned whose
pruning keeps the suspect's defense accuracy within --param budget (0.02,
i.e. 2 points) of its unpruned defense accuracy. Only defense data decide.
Masks sit on BatchNorm channels, or, without BatchNorm (mnistnet), on conv
channels and hidden dense units. --param finetune='{"epochs":5}' fine-tunes
after pruning with the pruned channels held at 0.

--param NAME=VALUE sets a method parameter, --params a JSON object of them
(run.json lists them all with their defaults). The folder holds
model.safetensors, removal.json (pruned channels with their mask values,
every channel's score, the cut and how it was chosen, training curves) and
defense_indices.json.`,
		Example: `  ebyd expose --run runs/badnets --out runs/badnets-cul
  ebyd remove --run runs/badnets --exposed runs/badnets-cul --out runs/badnets-clean
  ebyd remove --run runs/badnets --method rnp --param budget=0.01 --out runs/badnets-rnp
  ebyd remove --run runs/badnets --method ft --params '{"epochs":5}' --out runs/badnets-ft`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			p, err := methodParams(params)
			if err != nil {
				return err
			}
			if paramsJSON != "" {
				if p != nil {
					return usageError{fmt.Errorf("give --param or --params, not both")}
				}
				if !json.Valid([]byte(paramsJSON)) {
					return usageError{fmt.Errorf("--params %q: not JSON", paramsJSON)}
				}
				p = json.RawMessage(paramsJSON)
			}
			cfg.Params = p
			if out == "" {
				return usageError{fmt.Errorf("no output folder given: --out DIR")}
			}
			res, err := run.Remove(c.Context(), cfg, options(c, g, out, force))
			if err != nil {
				return err
			}
			return reportRemove(c, g, res)
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Run, "run", "", "suspect run folder whose backdoor is removed (required)")
	f.StringVar(&cfg.Exposed, "exposed", "", "expose run folder derived from --run (required by ebyd-rnp)")
	f.StringVar(&cfg.Trigger, "trigger", "", "detect folder of --run (ebyd detect --method nc --out) whose recovered trigger the fine-tuning after pruning unlearns")
	f.StringVar(&cfg.Method, "method", remove.Default, "removal method: "+strings.Join(remove.Names(), ", "))
	f.StringArrayVar(&params, "param", nil, "set a method parameter, NAME=VALUE (repeatable; VALUE is JSON or a bare word), e.g. --param budget=0.01")
	f.StringVar(&paramsJSON, "params", "", "the method parameters as one JSON object")
	f.IntVar(&cfg.DefenseSize, "defense-size", 0, "clean training images the defender gets (0: the exposed run's defense set, else "+fmt.Sprint(run.DefaultDefenseSize)+")")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of a drawn defense set and of the method's random draws")
	f.IntVar(&cfg.TestSubset, "test-subset", 0, "measure CA and ASR on a seeded random subset of this many test images (0: the run's own test images)")
	f.IntVar(&cfg.EvalBatch, "eval-batch", run.DefaultEvalBatch, "images per evaluation batch")
	f.StringVar(&out, "out", "", "run folder to write; its parent must exist (required)")
	f.BoolVar(&force, "force", false, "replace an existing run folder at --out")
	_ = c.MarkFlagRequired("run")
	return c
}

func reportRemove(c *cobra.Command, g *globals, res *run.RemoveResult) error {
	m := res.Manifest
	var cfg run.RemoveConfig
	_ = json.Unmarshal(m.Config, &cfg)
	rows := []row{
		{"run", res.Dir},
		{"suspect", res.Parent},
	}
	if res.Exposed != "" {
		rows = append(rows, row{"exposed", res.Exposed})
	}
	rows = append(rows,
		row{"method", fmt.Sprintf("%s (%s)", res.Method, string(cfg.Params))},
		row{"defense", fmt.Sprintf("%d clean training images (%s)", res.DefenseSize, res.DefenseFrom)},
		row{"clean acc", fmt.Sprintf("%s → %s", pct(res.InitialCleanAcc), pct(res.CleanAcc))},
	)
	if res.ASR != nil {
		rows = append(rows, row{"ASR", fmt.Sprintf("%s → %s (the suspect's own trigger)", pct(*res.InitialASR), pct(*res.ASR))})
	}
	rows = append(rows, row{"defense acc", fmt.Sprintf("%s → %s", pct(res.InitialDefenseAcc), pct(res.DefenseAcc))})
	if res.Cut != nil {
		rows = append(rows, row{"pruned", fmt.Sprintf("%d of %d channels (%d candidates; last score %.3g; defense acc pruned %s, budget %.3g)",
			res.Pruned, res.Gated, res.Cut.Candidates, res.Cut.Threshold, pct(res.Cut.Acc), res.Cut.Budget)})
	}
	rows = append(rows,
		row{"time", dur(res.Seconds)},
		row{"engine", fmt.Sprintf("%s BLAS, %s convolutions, GOMAXPROCS %d", m.Engine.BLAS, m.Engine.Conv, m.Engine.GOMAXPROCS)})
	return report(c, g, rows, res)
}
