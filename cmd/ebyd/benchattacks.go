package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ebyd/benchdoc"
	"ebyd/run"
)

func newBenchAttacksCmd(g *globals) *cobra.Command {
	cfg := run.AttackGridConfig{Train: run.DefaultTrainConfig()}
	var out, doc string
	var force bool
	var docGrids []string
	var image int
	c := &cobra.Command{
		Use:   "attacks",
		Short: "Train a clean model and every attack with one recipe; tabulate CA and ASR",
		Long: `Train a clean model and one backdoored model per attack, all with the same
training recipe (the train command's flags), into run folders under --out:
every attack that needs no user image, all2one with target 0 (clean-label for
cl), plus badnets with target 7, blend with target 3, badnets all2all, sig
clean-label and onepixel at row 2, column 2. Existing run folders are reused, so an interrupted grid resumes;
--force retrains. --out/grid.json summarises CA, ASR and seconds per run.

With --doc, this grid and those named by --grid are written into the
generated section of that Markdown file, with a picture of every trigger on
the same test image; text outside the section is kept.`,
		Example: `  ebyd bench attacks --out runs/grid-mnist --doc docs/attacks.md
  ebyd bench attacks --dataset fashion-mnist-rgb32 --model preactresnet18 --width 16 --train-subset 10000 --out runs/grid-fmnist
  ebyd bench attacks --only badnets,wanet --out runs/grid-mnist`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{fmt.Errorf("--out is required: the folder that holds the grid's run folders")}
			}
			res, err := run.AttackGrid(c.Context(), cfg, options(c, g, out, force))
			if err != nil {
				return err
			}
			if doc != "" {
				grids := append([]string{out}, docGrids...)
				if err := (benchdoc.Attacks{Grids: grids, Doc: doc, Image: image}).Write(); err != nil {
					return err
				}
			}
			var rows []row
			for _, r := range res.Rows {
				v := "CA " + pct(r.CleanAcc)
				if r.ASR != nil {
					v += "  ASR " + pct(*r.ASR)
				}
				rows = append(rows, row{r.Label, fmt.Sprintf("%s  %s", v, dur(r.Seconds))})
			}
			return report(c, g, rows, res)
		},
	}
	f := c.Flags()
	trainFlags(f, &cfg.Train)
	f.StringToIntVar(&cfg.EpochsFor, "epochs-for", nil, "train these attacks for more epochs, e.g. wanet=3 (a clean model is trained for as many, to compare with)")
	f.StringSliceVar(&cfg.Only, "only", nil, "train only these grid entries (labels, comma-separated)")
	f.StringVar(&out, "out", "", "folder for the grid's run folders and grid.json (required)")
	f.BoolVar(&force, "force", false, "retrain runs that already exist")
	f.StringVar(&doc, "doc", "", "write the tables and trigger pictures into this Markdown file")
	f.StringArrayVar(&docGrids, "grid", nil, "an earlier grid folder to include in --doc (repeatable)")
	f.IntVar(&image, "image", 0, "index of the test image the triggers are shown on")
	return c
}
