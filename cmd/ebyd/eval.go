package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ebyd/attack"
	"ebyd/run"
)

func newEvalCmd(g *globals) *cobra.Command {
	var cfg run.EvalConfig
	var tf triggerFlags
	var bd run.AttackConfig
	var mode string
	c := &cobra.Command{
		Use:   "eval",
		Short: "Measure a run's clean accuracy and attack success rate",
		Long: `Measure the model of a run folder again: clean accuracy (CA) on the test
images the run was evaluated on, and attack success rate (ASR) for the run's
own backdoor, or for another trigger given with --attack or as images with
--trigger-pattern (and --trigger-mask). ASR is the share of triggered test
images whose true label is not the target that the model classifies as the
target (all2all: as y+1 mod K). Nothing is written.`,
		Example: `  ebyd eval --run runs/badnets
  ebyd eval --run runs/clean --attack badnets --target 0
  ebyd eval --run runs/patch --trigger-pattern star.png --trigger-mask mask.png --target 7`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			params, err := tf.json()
			if err != nil {
				return err
			}
			if name := tf.name(); name != "" {
				bd.Name, bd.Params, bd.Mode = name, params, attack.Mode(mode)
				cfg.Attack = &bd
			} else if c.Flags().Changed("target") || c.Flags().Changed("mode") {
				return usageError{fmt.Errorf("--target and --mode need --attack or --trigger-pattern (without them the run's own backdoor is measured)")}
			}
			res, err := run.Eval(c.Context(), cfg)
			if err != nil {
				return err
			}
			rows := []row{
				{"run", res.Run},
				{"model", fmt.Sprintf("%s on %s", res.Arch, res.Dataset)},
				{"clean acc", fmt.Sprintf("%s (%d test images)", pct(res.CleanAcc), res.Clean)},
			}
			if res.ASR != nil {
				target := fmt.Sprintf("target %d", res.Target)
				if res.Mode == attack.All2All {
					target = "y → y+1 mod K"
				}
				rows = append(rows,
					row{"attack", fmt.Sprintf("%s, %s", res.Attack, target)},
					row{"ASR", fmt.Sprintf("%s (%d triggered images)", pct(*res.ASR), res.Backdoor)})
			} else {
				rows = append(rows, row{"ASR", "- (a clean run; give --attack to measure one)"})
			}
			rows = append(rows, row{"time", dur(res.Seconds)})
			return report(c, g, rows, res)
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Run, "run", "", "run folder to evaluate (required)")
	tf.register(f, "measure ASR with this trigger instead of the run's own")
	f.IntVar(&bd.Target, "target", 0, "target label of --attack")
	f.StringVar(&mode, "mode", "", "all2one (default) or all2all, for --attack")
	f.IntVar(&cfg.TestSubset, "test-subset", 0, "evaluate a seeded random subset of this many test images (0: the run's own test images)")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of --test-subset")
	f.IntVar(&cfg.EvalBatch, "eval-batch", run.DefaultEvalBatch, "images per evaluation batch")
	_ = c.MarkFlagRequired("run")
	return c
}
