package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"ebyd/benchdoc"
	"ebyd/internal/quote"
	"ebyd/remove"
	"ebyd/run"
)

func newBenchRemovalCmd(g *globals) *cobra.Command {
	var cfg run.RemoveBenchConfig
	var out, doc string
	var force bool
	var params map[string]string
	c := &cobra.Command{
		Use:   "removal RUN...",
		Short: "Run every removal method against backdoored runs; tabulate ASR, CA drop and seconds",
		Long: `Remove the backdoor of each suspect run (backdoored folders written by ebyd
train) with every removal method (--methods), all on the same defense set:
ebyd-rnp on the suspect's cul exposure with the trigger targeted NC
recovered for the detected label, the baselines (rnp, ft, fp, anp, nad,
ibau) on the suspect alone. The exposure and trigger are made once per
suspect, or taken from a detection benchmark (--detection DIR, the --out of
ebyd bench detection).

Each suspect gets a sub-folder of --out with one remove run folder per
method; a method already done is skipped, so an interrupted benchmark
resumes (--force reruns). --out/removal.json holds every result; with
--doc the tables (ASR after, CA drop, CA after, means, seconds) go into that
Markdown file's generated section.`,
		Example: `  ebyd bench removal --out runs/removal runs/badnets runs/blend
  ebyd bench removal --detection runs/detection --methods ebyd-rnp,rnp,ft --params anp='{"iterations":500}' --out runs/removal runs/badnets`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if out == "" {
				return usageError{fmt.Errorf("--out is required: the folder that holds the benchmark's results")}
			}
			cfg.Suspects = args
			if len(params) > 0 {
				cfg.Params = map[string]json.RawMessage{}
				for m, p := range params {
					if !json.Valid([]byte(p)) {
						return usageError{fmt.Errorf("--params %s=%s: not a JSON object", quote.Name(m), quote.Name(p))}
					}
					cfg.Params[m] = json.RawMessage(p)
				}
			}
			res, err := run.RemoveBench(c.Context(), cfg, options(c, g, out, force))
			if err != nil {
				return err
			}
			if doc != "" {
				if err := benchdoc.Removal(out, doc); err != nil {
					return err
				}
			}
			var rows []row
			for _, r := range res.Rows {
				var parts []string
				for _, x := range r.Results {
					parts = append(parts, fmt.Sprintf("%s ASR %s CA %s", x.Method, pct(x.ASR), pct(x.CleanAcc)))
				}
				rows = append(rows, row{r.Name, strings.Join(parts, "; ")})
			}
			return report(c, g, rows, res)
		},
	}
	f := c.Flags()
	f.StringVar(&out, "out", "", "folder for the benchmark's results (required)")
	f.StringVar(&doc, "doc", "", "write the tables into this Markdown file")
	f.BoolVar(&force, "force", false, "rerun methods that are already done")
	f.StringSliceVar(&cfg.Methods, "methods", nil, "removal methods to run (default: all: "+strings.Join(remove.Names(), ", ")+")")
	f.StringToStringVar(&params, "params", nil, "a method's parameters as JSON, METHOD='{...}' (repeatable)")
	f.StringVar(&cfg.Detection, "detection", "", "reuse the exposures and recovered triggers of this detection benchmark folder")
	f.IntVar(&cfg.DefenseSize, "defense-size", run.DefaultDefenseSize, "clean training images every method gets")
	f.Uint64Var(&cfg.DefenseSeed, "defense-seed", 1, "seed of the defense set")
	return c
}
