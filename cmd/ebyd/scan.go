package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"ebyd/data"
	"ebyd/run"
)

func newScanCmd(g *globals) *cobra.Command {
	var cfg run.ScanConfig
	var imp run.ImportConfig
	var out string
	var force bool
	c := &cobra.Command{
		Use:   "scan",
		Short: "One verdict on a model you did not train: backdoored or clean, the target, the trigger",
		Long: `Scan a model for a backdoor with nothing but clean training images of its
dataset (500, drawn with --defense-seed). The model is a PyTorch state_dict
(--weights, read as ebyd import reads it, with --arch, --dataset, --mean and
--std) or a run folder (--run).

The verdict: Neural Cleanse recovers a mask and pattern for every label; a
backdoor's target needs a far smaller mask than the other labels, so the
score is the norm ratio, the smallest mask over the median. Its p-value is
the chance that a clean model has a ratio this small, from a Student-t fit
to clean calibration models (docs/detection.md): backdoored when p ≤ 0.01.
When 0.01 < p ≤ 0.1 the evidence is ambiguous and the scan runs another
round of every label with another batch order, averaging the masks, up to
3 rounds; the output says how many ran and whether it stayed ambiguous.
The target is the label of the smallest mask; its trigger is saved as a
PNG. The confidence is 1 − p.

Warping triggers (WaNet) are not patches and are missed: see
docs/detection.md for what the verdict finds and misses.

--out (default runs/scan-NAME) gets suspect/ (the imported run) and
detect/ (detect.json, every label's mask_L.png, pattern_L.png and
trigger_L.png).`,
		Example: `  ebyd scan --weights model.pt --arch mnistnet --dataset mnist
  ebyd scan --weights model.safetensors --arch preactresnet18 --dataset fashion-mnist --mean 0 --std 1 --json
  ebyd scan --run runs/train-mnist-mnistnet`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			f := c.Flags()
			if (cfg.Run == "") == (imp.Weights == "") {
				return usageError{fmt.Errorf("give --weights FILE (with --arch) or --run DIR, not both (see %s --help)", c.CommandPath())}
			}
			name := filepath.Base(cfg.Run)
			if imp.Weights != "" {
				if imp.Arch == "" {
					return usageError{fmt.Errorf("--weights needs --arch (or --arch auto)")}
				}
				if !f.Changed("mean") {
					imp.Mean = nil
				}
				if !f.Changed("std") {
					imp.Std = nil
				}
				cfg.Import = &imp
				name = strings.TrimSuffix(filepath.Base(imp.Weights), filepath.Ext(imp.Weights))
			}
			if out == "" {
				var err error
				if out, err = run.DefaultOut("scan-" + name); err != nil {
					return err
				}
			}
			res, err := run.Scan(c.Context(), cfg, options(c, g, out, force))
			if err != nil {
				return err
			}
			return report(c, g, scanRows(out, res), scanJSON(out, res))
		},
	}
	f := c.Flags()
	f.StringVar(&imp.Weights, "weights", "", "state_dict file to scan: .pt/.pth (torch.save) or .safetensors")
	f.StringVar(&imp.Arch, "arch", "", "architecture of --weights (see ebyd import --help), or auto")
	f.StringArrayVar(&imp.Rename, "rename", nil, "rewrite a prefix of the file's names, OLD=NEW (as ebyd import)")
	f.StringVar(&imp.Dataset, "dataset", "mnist", "dataset the model classifies: "+strings.Join(data.Names(), ", "))
	f.StringVar(&imp.DataDir, "data-dir", "", "read the dataset's files from this directory")
	f.Float32SliceVar(&imp.Mean, "mean", nil, "per-channel mean the model was trained with (default: the dataset's)")
	f.Float32SliceVar(&imp.Std, "std", nil, "per-channel std, like --mean")
	f.IntVar(&imp.TestSubset, "test-subset", 0, "measure the imported model's clean accuracy on this many test images (0: all)")
	f.StringVar(&cfg.Run, "run", "", "scan this run folder's model instead of --weights")
	f.IntVar(&cfg.DefenseSize, "defense-size", run.DefaultDefenseSize, "clean training images the scan uses")
	f.Uint64Var(&cfg.DefenseSeed, "defense-seed", 1, "seed of the defense images")
	f.StringVar(&out, "out", "", "folder for the scan (default: a new folder runs/scan-NAME[-N])")
	f.BoolVar(&force, "force", false, "replace an existing --out folder")
	return c
}

// scanOut is ebyd scan's --json object.
type scanOut struct {
	Backdoored bool      `json:"backdoored"`
	Target     *int      `json:"target"` // null when clean
	Score      float64   `json:"score"`  // −log10 p
	PValue     float64   `json:"p_value"`
	Confidence float64   `json:"confidence"` // 1 − p
	Ratio      float64   `json:"norm_ratio"`
	Rounds     int       `json:"rounds"`
	Ambiguous  bool      `json:"ambiguous"`
	Trigger    string    `json:"trigger,omitempty"`
	Out        string    `json:"out"`
	Seconds    float64   `json:"seconds"`
	TrueTarget *int      `json:"true_target,omitempty"` // the run's planted target, when it has one
	L1         []float64 `json:"mask_l1"`
}

func scanJSON(out string, res *run.ScanResult) scanOut {
	d := res.Detect
	o := scanOut{Out: out, Seconds: res.Seconds, TrueTarget: d.TrueTarget}
	if d.Backdoored != nil && *d.Backdoored {
		o.Backdoored, o.Target, o.Trigger = true, d.PredictedTarget, res.Trigger
	}
	if d.Score != nil {
		o.Score = *d.Score
	}
	if d.Confidence != nil {
		o.Confidence = *d.Confidence
	}
	if s := d.Scan; s != nil {
		o.PValue, o.Ratio, o.Rounds, o.Ambiguous, o.L1 = s.PValue, s.Ratio, s.Rounds, s.Ambiguous, s.L1
	}
	return o
}

func scanRows(out string, res *run.ScanResult) []row {
	o := scanJSON(out, res)
	d := res.Detect
	verdict := fmt.Sprintf("clean (p = %.2g)", o.PValue)
	if o.Ambiguous {
		verdict = fmt.Sprintf("clean, but ambiguous after %d rounds (p = %.2g)", o.Rounds, o.PValue)
	}
	if o.Backdoored {
		verdict = fmt.Sprintf("BACKDOORED, target %d (p = %.2g, confidence %.3f)", *o.Target, o.PValue, o.Confidence)
	}
	rows := []row{
		{"model", fmt.Sprintf("%s (%s on %s)", res.Suspect, d.Arch, d.Dataset)},
		{"verdict", verdict},
		{"evidence", fmt.Sprintf("smallest mask / median = %.3f over %d labels, %d round(s)%s", o.Ratio, len(o.L1), o.Rounds, map[bool]string{true: ", still ambiguous", false: ""}[o.Ambiguous])},
	}
	if d.PredictedTarget != nil {
		rows = append(rows, row{"smallest mask", fmt.Sprintf("label %d", *d.PredictedTarget)})
	}
	if o.Trigger != "" {
		rows = append(rows, row{"trigger", o.Trigger})
	}
	if d.TrueTarget != nil {
		rows = append(rows, row{"run's true target", fmt.Sprint(*d.TrueTarget)})
	}
	rows = append(rows, row{"defense", fmt.Sprintf("%d clean training images", d.Defense)},
		row{"time", (time.Duration(o.Seconds*1e3) * time.Millisecond).String()},
		row{"out", out})
	return rows
}
