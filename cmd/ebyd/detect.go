package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"ebyd/detect"
	"ebyd/run"
)

func newDetectCmd(g *globals) *cobra.Command {
	var cfg run.DetectConfig
	var out string
	var force bool
	var epochs, steps, blends int
	c := &cobra.Command{
		Use:   "detect",
		Short: "Detect a backdoor: its target label, the model, its trigger, or triggered inputs",
		Long: `Run one detection method on a suspect run's model, or on the exposed model
that ebyd expose derived from it (--exposed), with only a defense set of
clean training images: the exposed run's own, or --defense-size images of
the suspect's training split drawn with --defense-seed.

Methods:
  label  the target is the exposed model's most predicted class on the
         defense images; its share is the confidence
  model  backdoored when the variance of those class shares exceeds 0.01
         (the score is the variance)
  nc     Neural Cleanse: a mask and pattern per label; the MAD anomaly index
         of the smallest mask is the score (backdoored above 2). Every label,
         or --labels. With --exposed, EBYD's targeted trigger recovery:
         only the exposure's 3 most likely targets (--candidates K); the
         predicted target is the one with the smallest mask, and the score
         is the gap, the second-smallest mask over the smallest
         (backdoored from 2). Runs on the suspect model
  mmbd   maximum-margin statistic per class; backdoored when the p-value of
         the largest is at most 0.05 (the score is 1 − p)
  scan   ebyd scan's verdict: nc over every label on the suspect, the norm
         ratio (smallest mask over the median) against clean models;
         backdoored when its p-value is at most 0.01 (the score is −log10 p)
  strip  per-input entropy under blending with defense images
  cd     per-input L1 norm of the Cognitive Distillation mask

label and model read the exposed model (the suspect's own without
--exposed); mmbd, strip and cd run on the exposed model when one is given;
--on suspect|exposed overrides. strip and cd score --samples clean test
images and the same images carrying the run's own trigger, and report the
AUROC of their scores (the evaluator's measurement: the detector never sees
which is which). The result also says whether a predicted target is the
run's true one. With --out, a folder gets the result (detect.json) and, for
nc, mask_L.png, pattern_L.png and trigger_L.png per label.`,
		Example: `  ebyd detect --run runs/badnets --method nc
  ebyd detect --run runs/badnets --exposed runs/badnets-cul --method label
  ebyd detect --run runs/badnets --exposed runs/badnets-cul --method nc --out runs/badnets-nc
  ebyd detect --run runs/badnets --method strip --samples 200`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			f := c.Flags()
			if f.Changed("defense-seed") && cfg.DefenseSize == 0 {
				cfg.DefenseSize = run.DefaultDefenseSize // draw a fresh set
			}
			m := strings.ToLower(cfg.Method)
			for flag, methods := range map[string][]string{"epochs": {"nc"}, "steps": {"mmbd", "cd"}, "blends": {"strip"}, "samples": {"strip", "cd"}, "sample-seed": {"strip", "cd"}} {
				if f.Changed(flag) && !contains(methods, m) {
					return usageError{fmt.Errorf("--%s is for --method %s", flag, strings.Join(methods, " or "))}
				}
			}
			// The flags are the method's parameters of the same meaning.
			params := map[string]int{}
			for flag, p := range map[string]struct {
				name string
				v    int
			}{"epochs": {"epochs", epochs}, "steps": {"steps", steps}, "blends": {"n", blends}} {
				if f.Changed(flag) {
					params[p.name] = p.v
				}
			}
			if len(params) > 0 {
				b, err := json.Marshal(params)
				if err != nil {
					return err
				}
				cfg.Params = b
			}
			res, err := run.Detect(c.Context(), cfg, options(c, g, out, force))
			if err != nil {
				return err
			}
			return report(c, g, detectRows(res), res)
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Run, "run", "", "suspect run folder (required)")
	f.StringVar(&cfg.Method, "method", "", "detection method: "+strings.Join(detect.Names(), ", ")+" (required)")
	f.StringVar(&cfg.Exposed, "exposed", "", "exposed run folder derived from --run by ebyd expose")
	f.StringVar(&cfg.On, "on", "", "run the detector on the suspect or the exposed model (default: see above)")
	f.IntSliceVar(&cfg.Labels, "labels", nil, "nc: recover triggers for these labels only (e.g. 3,5)")
	f.IntVar(&cfg.Candidates, "candidates", 0, "nc with --exposed: recover triggers for the exposure's K most likely target labels (default 3)")
	f.IntVar(&cfg.DefenseSize, "defense-size", 0, fmt.Sprintf("clean training images the defender holds (default: the --exposed run's defense set, else %d)", run.DefaultDefenseSize))
	f.Uint64Var(&cfg.DefenseSeed, "defense-seed", 1, "seed of the defense set drawn with --defense-size")
	f.IntVar(&cfg.Samples, "samples", run.DefaultDetectSamples, "strip, cd: clean test images to score (and as many triggered)")
	f.Uint64Var(&cfg.SampleSeed, "sample-seed", 1, "strip, cd: seed of the scored test images")
	f.IntVar(&epochs, "epochs", detect.NCDefaultEpochs, "nc: epochs per label (the seed: 20)")
	f.IntVar(&steps, "steps", 0, fmt.Sprintf("mmbd: steps per class (default %d; the seed: 3000); cd: steps per input (default %d)", detect.MMBDDefaultSteps, detect.CDDefaultSteps))
	f.IntVar(&blends, "blends", 100, "strip: blends per input")
	f.StringVar(&out, "out", "", "write the result (and nc's images) into this folder")
	f.BoolVar(&force, "force", false, "replace an existing --out folder")
	_ = c.MarkFlagRequired("run")
	_ = c.MarkFlagRequired("method")
	return c
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// detectRows is the human table of a detection result.
func detectRows(res *run.DetectResult) []row {
	rows := []row{{"run", res.Run}}
	if res.Exposed != "" {
		rows = append(rows, row{"exposed", res.Exposed})
	}
	rows = append(rows,
		row{"model", fmt.Sprintf("%s on %s (%s model)", res.Arch, res.Dataset, res.On)},
		row{"method", fmt.Sprintf("%s, %d defense images", res.Method, res.Defense)})
	if res.ClassShare != nil {
		var b strings.Builder
		for i, s := range res.ClassShare {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%d:%.0f%%", i, 100*s)
		}
		rows = append(rows, row{"class share", b.String()})
	}
	if nc := res.NC; nc != nil {
		for _, t := range nc.Triggers {
			v := fmt.Sprintf("mask L1 %.1f, success %s, %d epochs, %s", t.L1, pct(t.Success), t.Epochs, dur(t.Seconds))
			if !t.Reached {
				v += " (never reached the success threshold)"
			}
			if a := nc.Anomaly; a != nil {
				for i, l := range a.Labels {
					if l == t.Label {
						v += fmt.Sprintf(", anomaly %.2f", a.Index[i])
					}
				}
			}
			rows = append(rows, row{fmt.Sprintf("label %d", t.Label), v})
		}
		if g := nc.Gap; g != nil {
			rows = append(rows, row{"gap", fmt.Sprintf("%.2f (second-smallest mask / smallest; backdoored from %g)", g.Gap, g.Threshold)})
		}
		if a := nc.Anomaly; a != nil {
			rows = append(rows, row{"norm ratio", fmt.Sprintf("%.3f (smallest mask / median; smaller is more suspicious)", a.Ratio)})
		}
		rows = append(rows, row{"labels from", nc.LabelFrom})
	}
	if mm := res.MMBD; mm != nil {
		var b strings.Builder
		for i, r := range mm.Margins {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%d:%.3g", i, r)
		}
		rows = append(rows, row{"max margins", b.String()}, row{"p-value", fmt.Sprintf("%.3g (backdoored if ≤ %g)", mm.PValue, mm.Alpha)})
	}
	if s := res.Samples; s != nil {
		rows = append(rows,
			row{"scored", fmt.Sprintf("%d clean, %d triggered test images", s.Clean, s.Triggered)},
			row{"mean score", fmt.Sprintf("clean %.4g, triggered %.4g (higher: more suspicious)", s.CleanMean, s.TrigMean)},
			row{"AUROC", fmt.Sprintf("%.4f", s.AUROC)})
	}
	if res.PredictedTarget != nil {
		v := fmt.Sprint(*res.PredictedTarget)
		if res.Confidence != nil {
			v += fmt.Sprintf(" (share %s)", pct(*res.Confidence))
		}
		rows = append(rows, row{"predicted target", v})
	}
	if res.Score != nil && res.Samples == nil {
		v := fmt.Sprintf("%.4g", *res.Score)
		if res.Threshold != nil {
			v += fmt.Sprintf(" (threshold %.4g)", *res.Threshold)
		}
		rows = append(rows, row{"score", v})
	}
	if res.Backdoored != nil {
		rows = append(rows, row{"backdoored", fmt.Sprint(*res.Backdoored)})
	}
	switch {
	case res.Attack == "":
		rows = append(rows, row{"truth", "clean run (no backdoor planted)"})
	case res.TrueTarget == nil:
		rows = append(rows, row{"truth", fmt.Sprintf("%s, %s", res.Attack, res.Mode)})
	default:
		v := fmt.Sprintf("%s, target %d", res.Attack, *res.TrueTarget)
		if res.TargetCorrect != nil {
			v += map[bool]string{true: " (predicted correctly)", false: " (predicted wrongly)"}[*res.TargetCorrect]
		}
		rows = append(rows, row{"truth", v})
	}
	if res.Out != "" {
		rows = append(rows, row{"out", res.Out})
	}
	return append(rows, row{"time", dur(res.Seconds)})
}
