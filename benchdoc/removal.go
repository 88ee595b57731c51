package benchdoc

import (
	"bytes"
	"cmp"
	"ebyd/report"
	"ebyd/run"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Removal writes the tables of a removal benchmark folder into the
// document's generated section "removal tables".
func Removal(bench, doc string) error {
	res, err := readResult[run.RemoveBenchResult](bench, run.RemoveBenchFile, "bench removal")
	if err != nil {
		return err
	}
	if len(res.Rows) == 0 {
		return fmt.Errorf("%s holds no rows", bench)
	}
	var b strings.Builder
	e := res.Engine
	var procs []int
	for _, r := range res.Rows {
		for _, c := range r.Results {
			if !slices.Contains(procs, c.Procs) {
				procs = append(procs, c.Procs)
			}
		}
	}
	slices.Sort(procs)
	fmt.Fprintf(&b, "Defense set: %d clean training images (seed %d), the same for every method. CA and ASR on the full test split "+
		"(ASR: triggered test images whose label is not the target). Engine: %s BLAS, %s convolutions, GOMAXPROCS %s; seconds are wall-clock "+
		"per removal (the exposure and trigger recovery ebyd-rnp builds on are not included: see docs/detection.md).\n\n",
		cmp.Or(res.Config.DefenseSize, run.DefaultDefenseSize), res.Config.DefenseSeed, e.BLAS, e.Conv, strings.Trim(fmt.Sprint(procs), "[]"))
	if len(res.Config.Params) > 0 {
		b.WriteString("Parameters other than the defaults: ")
		var ps []string
		for m, p := range res.Config.Params {
			var c bytes.Buffer
			if json.Compact(&c, p) != nil {
				c.Reset()
				c.Write(p)
			}
			ps = append(ps, fmt.Sprintf("%s `%s`", m, c.String()))
		}
		slices.Sort(ps)
		b.WriteString(strings.Join(ps, "; ") + ".\n\n")
	}
	methods := res.Config.Methods
	header := []string{"method"}
	for _, r := range res.Rows {
		header = append(header, r.Name)
	}
	header = append(header, "mean", "mean s")
	for _, part := range []struct {
		title string
		cell  func(r run.RemoveBenchRow, c run.RemoveBenchCell) float64
		base  func(r run.RemoveBenchRow) float64
	}{
		{"ASR after removal (%)", func(_ run.RemoveBenchRow, c run.RemoveBenchCell) float64 { return 100 * c.ASR }, func(r run.RemoveBenchRow) float64 { return 100 * r.ASR }},
		{"CA drop (points; negative: CA rose)", func(r run.RemoveBenchRow, c run.RemoveBenchCell) float64 { return 100 * (r.CleanAcc - c.CleanAcc) }, nil},
		{"CA after removal (%)", func(_ run.RemoveBenchRow, c run.RemoveBenchCell) float64 { return 100 * c.CleanAcc }, func(r run.RemoveBenchRow) float64 { return 100 * r.CleanAcc }},
	} {
		fmt.Fprintf(&b, "#### %s\n\n", part.title)
		var rows [][]string
		if part.base != nil {
			row := []string{"(suspect)"}
			var sum float64
			for _, r := range res.Rows {
				v := part.base(r)
				sum += v
				row = append(row, fmt.Sprintf("%.2f", v))
			}
			rows = append(rows, append(row, fmt.Sprintf("%.2f", sum/float64(len(res.Rows))), "-"))
		}
		for _, m := range methods {
			row := []string{m}
			var sum, secs float64
			n := 0
			for _, r := range res.Rows {
				i := slices.IndexFunc(r.Results, func(c run.RemoveBenchCell) bool { return c.Method == m })
				if i < 0 {
					row = append(row, "-")
					continue
				}
				v := part.cell(r, r.Results[i])
				sum, secs, n = sum+v, secs+r.Results[i].Seconds, n+1
				row = append(row, fmt.Sprintf("%.2f", v))
			}
			mean, ms := math.NaN(), math.NaN()
			if n > 0 {
				mean, ms = sum/float64(n), secs/float64(n)
			}
			rows = append(rows, append(row, fmt.Sprintf("**%.2f**", mean), fmt.Sprintf("%.0f", ms)))
		}
		b.WriteString(report.Table(header, rows))
		b.WriteString("\n")
	}
	b.WriteString("#### Suspects\n\n")
	var rows [][]string
	for _, r := range res.Rows {
		pr := ""
		for _, c := range r.Results {
			if c.Pruned > 0 {
				pr += fmt.Sprintf("%s %d, ", c.Method, c.Pruned)
			}
		}
		rows = append(rows, []string{r.Name, r.Attack, fmt.Sprint(r.Target), mark(r.DetectedTarget, &r.Target), pct(r.CleanAcc), pct(r.ASR), strings.TrimSuffix(pr, ", ")})
	}
	b.WriteString(report.Table([]string{"suspect", "attack", "target", "detected target (trigger unlearned)", "CA", "ASR", "channels pruned"}, rows))
	return report.Splice(doc, "removal tables", b.String())
}
