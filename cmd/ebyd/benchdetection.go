package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ebyd/benchdoc"
	"ebyd/run"
)

func newBenchDetectionCmd(g *globals) *cobra.Command {
	var cfg run.DetectBenchConfig
	var out, doc string
	var force bool
	var params []string
	c := &cobra.Command{
		Use:   "detection RUN...",
		Short: "Run every detector on a pool of clean and backdoored runs; tabulate label, model and sample detection",
		Long: `Run the detectors of the EBYD chain on each suspect run (folders written by
ebyd train, clean and backdoored), all with the same defense set:

  - exposure (ebyd expose, cul by default) and EBYD's targeted Neural Cleanse
    over the exposure's first --candidates labels: the predicted target and
    the candidate gap;
  - full Neural Cleanse on the suspect over every label: the smallest mask's
    label, the MAD anomaly index and the norm ratio;
  - the exposed model's class-share variance (the seed's model test);
  - STRIP and Cognitive Distillation on the runs of --sample-attacks, scored
    on clean and triggered test images.

Each suspect gets a sub-folder of --out (named after its run folder) holding
the exposed run and both NC results with their images; a suspect already
done is skipped, so an interrupted benchmark resumes (--force reruns).
--out/detection.json holds every row. With --doc the tables (label
detection, model-detection AUROC, recovered triggers beside the true ones,
sample-detection AUROC, seconds) go into that Markdown file's generated
section; text outside it is kept. The truth (attack, target, ASR) is read
from the runs by the benchmark, never by the detectors.`,
		Example: `  ebyd bench detection --out runs/detection runs/clean runs/badnets runs/blend
  scripts/detection.sh   # the pool behind docs/detection.md`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if out == "" {
				return usageError{fmt.Errorf("--out is required: the folder that holds the benchmark's results")}
			}
			cfg.Suspects = args
			p, err := methodParams(params)
			if err != nil {
				return err
			}
			cfg.ExposeParams = p
			res, err := run.DetectBench(c.Context(), cfg, options(c, g, out, force))
			if err != nil {
				return err
			}
			if doc != "" {
				if err := benchdoc.Detection(out, doc); err != nil {
					return err
				}
			}
			var rows []row
			for _, r := range res.Rows {
				truth := "clean"
				if r.Attack != "" {
					truth = r.Attack
					if r.Target != nil {
						truth += fmt.Sprintf(" t%d", *r.Target)
					}
				}
				rows = append(rows, row{r.Name, fmt.Sprintf("%-14s EBYD %d (gap %.2f)  NC %d (index %.2f)  %s",
					truth, r.EBYD.Target, r.EBYD.Gap, r.NC.Smallest, r.NC.Max, dur(r.ExposeSeconds+r.EBYDSeconds+r.NCSeconds))})
			}
			return report(c, g, rows, res)
		},
	}
	f := c.Flags()
	f.StringVar(&out, "out", "", "folder for the benchmark's results (required)")
	f.StringVar(&doc, "doc", "", "write the tables and trigger pictures into this Markdown file")
	f.BoolVar(&force, "force", false, "rerun suspects that are already done")
	f.StringVar(&cfg.Expose, "expose", "cul", "exposure method")
	f.StringArrayVar(&params, "expose-param", nil, "set an exposure parameter, NAME=VALUE (repeatable), as ebyd expose --param")
	f.IntVar(&cfg.NCEpochs, "nc-epochs", 0, "Neural Cleanse's epochs per label (default: its own, 6)")
	f.IntVar(&cfg.DefenseSize, "defense-size", run.DefaultDefenseSize, "clean training images every detector gets")
	f.Uint64Var(&cfg.DefenseSeed, "defense-seed", 1, "seed of the defense set")
	f.IntVar(&cfg.Candidates, "candidates", run.DefaultCandidates, "targeted NC: the exposure's K most likely target labels")
	f.StringSliceVar(&cfg.SampleAttacks, "sample-attacks", []string{"badnets", "blend", "wanet"}, "attacks whose runs STRIP and CD score")
	f.IntVar(&cfg.Samples, "samples", run.DefaultDetectSamples, "STRIP, CD: clean test images to score (and as many triggered)")
	return c
}
