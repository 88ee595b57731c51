package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ebyd/internal/userfile"
	"ebyd/run"
)

func newPipelineCmd(g *globals) *cobra.Command {
	var config, out, suspect string
	var force bool
	c := &cobra.Command{
		Use:   "pipeline",
		Short: "Run the whole EBYD chain: train a backdoored model, expose, detect, recover the trigger, remove, evaluate",
		Long: `Run the whole "Expose Before You Defend" chain and print one table:

  1. suspect  train a BadNets model on MNIST (mnistnet, 1 epoch, target 0,
              10% poisoned), or reuse the one an earlier pipeline trained
              in --out with the same recipe, or take --suspect DIR
  2. expose   Clean Unlearning (cul) on 500 clean training images
  3. detect   Neural Cleanse for the exposure's 3 most likely target
              labels: the label with the smallest mask is the target; the
              model is backdoored when the next mask is at least twice as
              large (the trigger image is saved)
  4. remove   ebyd-rnp: channel masks learned on the exposed model, the
              channels they single out pruned in the original model, as
              many as the defense accuracy allows (skipped when the model
              is found clean, unless remove_always is set)

The defender's stages see only the clean defense images; the clean accuracy
(CA) and attack success rate (ASR) before and after are measured by the
evaluator on the test split with the run's own trigger.

--config FILE.yaml changes any part: the dataset, model and attack of the
suspect (the keys of ebyd train's run.json "config"), the exposure and
removal methods with their parameters, the defense set. Keys left out keep
the defaults above; examples/pipeline.yaml lists them all. Each stage writes
its run folder under --out (suspect, exposed, detect, removed) and
--out/pipeline.json holds the summary.`,
		Example: `  ebyd pipeline
  ebyd pipeline --config examples/pipeline.yaml --out runs/my-pipeline
  ebyd pipeline --suspect runs/imported-model --out runs/imported-pipeline`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg := run.DefaultPipeline()
			if config != "" {
				b, err := userfile.ReadFile(config)
				if err != nil {
					return fmt.Errorf("--config: %w", err)
				}
				if cfg, err = run.ParsePipeline(b); err != nil {
					return fmt.Errorf("%s: %w", config, err)
				}
			}
			if suspect != "" {
				cfg.Suspect = suspect
			}
			res, err := run.Pipeline(c.Context(), cfg, options(c, g, out, force))
			if err != nil {
				return err
			}
			return reportPipeline(c, g, res)
		},
	}
	f := c.Flags()
	f.StringVar(&config, "config", "", "YAML file of pipeline settings (default: the embedded MNIST BadNets chain)")
	f.StringVar(&suspect, "suspect", "", "defend this run folder instead of training one")
	f.StringVar(&out, "out", "runs/pipeline", "folder for the stages' run folders and pipeline.json")
	f.BoolVar(&force, "force", false, "retrain the suspect even when --out holds one of the same recipe")
	return c
}

func reportPipeline(c *cobra.Command, g *globals, res *run.PipelineResult) error {
	suspect := res.Suspect
	if res.Reused {
		suspect += " (reused)"
	}
	rows := []row{{"suspect", suspect}}
	if res.Attack != "" {
		truth := res.Attack
		if res.TrueTarget != nil {
			truth += fmt.Sprintf(", target %d", *res.TrueTarget)
		}
		rows = append(rows, row{"planted", truth})
	}
	det := fmt.Sprintf("%d (candidates %v, gap %.2f)", res.PredictedTarget, res.Candidates, res.Gap)
	if res.PValue != nil {
		det = fmt.Sprintf("%d (smallest mask / median %.3f, p = %.2g)", res.PredictedTarget, res.NormRatio, *res.PValue)
	}
	if res.TargetCorrect != nil {
		if *res.TargetCorrect {
			det += "  correct"
		} else {
			det += "  WRONG"
		}
	}
	rows = append(rows,
		row{"detected target", det},
		row{"backdoored", fmt.Sprint(res.Backdoored)},
		row{"trigger", fmt.Sprintf("mask L1 %.1f, %s", res.MaskL1, res.TriggerImage)})
	if res.Removed {
		rows = append(rows, row{"removed", fmt.Sprintf("%d of %d channels pruned", res.Pruned, res.Gated)})
	} else {
		rows = append(rows, row{"removed", "nothing (no backdoor found)"})
	}
	ca := fmt.Sprintf("%s → %s (%+.2f points)", pct(res.InitialCleanAcc), pct(res.CleanAcc), 100*(res.CleanAcc-res.InitialCleanAcc))
	rows = append(rows, row{"clean acc", ca})
	if res.ASR != nil {
		rows = append(rows, row{"attack success", fmt.Sprintf("%s → %s", pct(*res.InitialASR), pct(*res.ASR))})
	}
	for _, s := range res.Stages {
		rows = append(rows, row{"time " + s.Stage, dur(s.Seconds)})
	}
	rows = append(rows, row{"time total", dur(res.Seconds)})
	return report(c, g, rows, res)
}
