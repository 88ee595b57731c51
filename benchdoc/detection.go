package benchdoc

import (
	"cmp"
	"ebyd/attack"
	"ebyd/detect"
	"ebyd/metrics"
	"ebyd/report"
	"ebyd/run"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// WorkingASR is the attack success rate from which the detection document
// counts a run as backdoored in its model-detection pool; weaker backdoors
// are listed beside it but left out of the AUROC (they barely act).
const WorkingASR = 0.9

// Detection writes the tables of a detection benchmark folder into
// the document's generated section "detection tables", with the triggers
// targeted NC recovered for BadNets and Blend runs beside the true ones
// (pictures under img/detection/ beside the document).
func Detection(bench, doc string) error {
	res, err := readResult[run.DetectBenchResult](bench, run.DetectBenchFile, "bench detection")
	if err != nil {
		return err
	}
	docDir := filepath.Dir(doc)
	imgDir := filepath.Join(docDir, "img", "detection")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	e := res.Engine
	var procs []int
	for _, r := range res.Rows {
		if !slices.Contains(procs, r.Procs) {
			procs = append(procs, r.Procs)
		}
	}
	slices.Sort(procs)
	fmt.Fprintf(&b, "Defense set: %d clean training images (seed %d) for every detector; exposure %s; targeted NC over the exposure's first %d labels. "+
		"Engine: %s BLAS, %s convolutions, GOMAXPROCS %s. Seconds are wall-clock.\n\n",
		cmp.Or(res.Config.DefenseSize, run.DefaultDefenseSize), res.Config.DefenseSeed, cmp.Or(res.Config.Expose, "cul"),
		res.Config.Candidates, e.BLAS, e.Conv, strings.Trim(fmt.Sprint(procs), "[]"))

	// Label detection.
	b.WriteString("#### Label detection\n\n")
	var rows [][]string
	var ebydOK, ncOK, n int
	for _, r := range res.Rows {
		if r.Attack == "" {
			continue
		}
		asr := "-"
		if r.ASR != nil {
			asr = pct(*r.ASR)
		}
		target := "y+1"
		if r.Target != nil {
			target = fmt.Sprint(*r.Target)
			if r.ASR != nil && *r.ASR >= WorkingASR {
				n++
				if r.EBYD.Target == *r.Target {
					ebydOK++
				}
				if r.NC.Smallest == *r.Target {
					ncOK++
				}
			}
		}
		rows = append(rows, []string{r.Name, r.Attack, string(r.Mode), target, asr,
			mark(r.ExposeTarget, r.Target), fmt.Sprint(r.Ranking[:min(len(r.Ranking), res.Config.Candidates)]),
			mark(r.EBYD.Target, r.Target), fmt.Sprintf("%.2f", r.EBYD.Gap),
			mark(r.NC.Smallest, r.Target), flagged(r.NC.Flagged),
			fmt.Sprintf("%.0f + %.0f", r.ExposeSeconds, r.EBYDSeconds), fmt.Sprintf("%.0f", r.NCSeconds)})
	}
	b.WriteString(report.Table([]string{"suspect", "attack", "mode", "target", "ASR", "exposed model's label", "candidates",
		"EBYD label (smallest candidate mask)", "gap", "full NC label (smallest mask)", "NC flags", "EBYD s (expose + NC)", "full NC s"}, rows))
	fmt.Fprintf(&b, "\nOver the %d all2one/clean-label runs with ASR ≥ %.0f%%: EBYD names the target for %d, full NC's smallest mask for %d.\n\n",
		n, 100*WorkingASR, ebydOK, ncOK)

	// Model detection.
	b.WriteString("#### Model detection\n\n")
	type score struct {
		name, rule string
		val        func(run.DetectBenchRow) float64
		flag       func(run.DetectBenchRow) bool
	}
	scores := []score{
		{"exposed model's share variance (seed)", "> 0.01", func(r run.DetectBenchRow) float64 { return r.Variance }, func(r run.DetectBenchRow) bool { return r.VarianceFlag }},
		{"EBYD candidate gap", fmt.Sprintf("≥ %g", detect.DefaultGapThreshold), func(r run.DetectBenchRow) float64 { return r.EBYD.Gap }, func(r run.DetectBenchRow) bool { return r.EBYD.Backdoored }},
		{"full NC anomaly index", "> 2", func(r run.DetectBenchRow) float64 { return r.NC.Max }, func(r run.DetectBenchRow) bool { return r.NC.Backdoored }},
		{"full NC norm ratio (lower is suspicious)", "none", func(r run.DetectBenchRow) float64 { return -r.NC.Ratio }, nil},
	}
	rows = rows[:0]
	var pool []run.DetectBenchRow
	for _, r := range res.Rows {
		truth := "clean"
		switch {
		case r.Attack != "" && r.ASR != nil && *r.ASR >= WorkingASR:
			truth = "backdoored"
		case r.Attack != "":
			truth = "weak backdoor (left out)"
		}
		if truth != "weak backdoor (left out)" {
			pool = append(pool, r)
		}
		rows = append(rows, []string{r.Name, truth, fmt.Sprintf("%.3f%s", r.Variance, star(r.VarianceFlag)),
			fmt.Sprintf("%.2f%s", r.EBYD.Gap, star(r.EBYD.Backdoored)), fmt.Sprintf("%.2f%s", r.NC.Max, star(r.NC.Backdoored)),
			fmt.Sprintf("%.3f", r.NC.Ratio), fmt.Sprintf("%.0f", r.ExposeSeconds+r.EBYDSeconds), fmt.Sprintf("%.0f", r.NCSeconds)})
	}
	b.WriteString(report.Table([]string{"suspect", "truth", "variance", "gap", "NC anomaly index", "NC norm ratio", "EBYD s", "full NC s"}, rows))
	b.WriteString("\n\\* flagged as backdoored at the default threshold.\n\n")
	positive := make([]bool, len(pool))
	var npos, nneg int
	for i, r := range pool {
		positive[i] = r.Attack != ""
		if positive[i] {
			npos++
		} else {
			nneg++
		}
	}
	rows = rows[:0]
	for _, s := range scores {
		vals := make([]float64, len(pool))
		var tp, fp int
		for i, r := range pool {
			vals[i] = s.val(r)
			if s.flag != nil && s.flag(r) {
				if positive[i] {
					tp++
				} else {
					fp++
				}
			}
		}
		dec := "-"
		if s.flag != nil {
			dec = fmt.Sprintf("%d of %d backdoored, %d of %d clean", tp, npos, fp, nneg)
		}
		rows = append(rows, []string{s.name, fmt.Sprintf("%.3f", metrics.AUROC(vals, positive)), s.rule, dec})
	}
	fmt.Fprintf(&b, "Pool: %d clean and %d backdoored runs (ASR ≥ %.0f%%).\n\n", nneg, npos, 100*WorkingASR)
	b.WriteString(report.Table([]string{"score", "AUROC", "flagged at", "flagged"}, rows))
	b.WriteString("\n")

	// Recovered triggers.
	b.WriteString("#### Triggers recovered by targeted NC\n\n")
	rows = rows[:0]
	for _, r := range res.Rows {
		if r.Attack != "badnets" && r.Attack != "blend" || r.Target == nil {
			continue
		}
		cells, err := triggerCells(bench, r, imgDir, docDir)
		if err != nil {
			return err
		}
		rows = append(rows, cells)
	}
	b.WriteString(report.Table([]string{"suspect", "true trigger (on black)", "recovered m⊙p", "recovered mask", "label", "mask L1",
		"targeted NC s", "full NC s", "full NC's L1 for that label"}, rows))
	b.WriteString("\n")

	// Sample detection.
	b.WriteString("#### Sample detection\n\n")
	rows = rows[:0]
	for _, r := range res.Rows {
		if r.STRIP == nil || r.CD == nil {
			continue
		}
		rows = append(rows, []string{r.Name, r.Attack, fmt.Sprintf("%d + %d", r.STRIP.Clean, r.STRIP.Triggered),
			fmt.Sprintf("%.3f", r.STRIP.AUROC), fmt.Sprintf("%.0f", r.STRIP.Seconds),
			fmt.Sprintf("%.3f", r.CD.AUROC), fmt.Sprintf("%.0f", r.CD.Seconds)})
	}
	b.WriteString(report.Table([]string{"suspect", "attack", "test images (clean + triggered)", "STRIP AUROC", "STRIP s", "CD AUROC", "CD s"}, rows))
	return report.Splice(doc, "detection tables", b.String())
}

// triggerCells draws a run's true trigger on a black image beside the
// trigger targeted NC recovered for the label it named.
func triggerCells(bench string, r run.DetectBenchRow, imgDir, docDir string) ([]string, error) {
	f, err := run.Open(r.Dir)
	if err != nil {
		return nil, err
	}
	_, trig, err := f.Attack()
	if err != nil {
		return nil, err
	}
	d := f.Manifest.Dataset
	truth := report.Picture{Pix: make([]uint8, d.Height*d.Width*d.Channels), H: d.Height, W: d.Width, C: d.Channels}
	trig.Apply(truth.Pix)
	paths := []string{filepath.Join(imgDir, r.Name+"-true.png")}
	if err := truth.Scaled(4).WritePNG(paths[0]); err != nil {
		return nil, err
	}
	l := r.EBYD.Target
	for _, kind := range []string{"trigger", "mask"} {
		im, err := attack.ReadImage(filepath.Join(bench, r.Name, run.ChainDetect, fmt.Sprintf("%s_%d.png", kind, l)))
		if err != nil {
			return nil, err
		}
		p := filepath.Join(imgDir, fmt.Sprintf("%s-%s.png", r.Name, kind))
		if err := (report.Picture{Pix: im.Pix, H: im.H, W: im.W, C: im.C}).Scaled(4).WritePNG(p); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	fullL1 := "-"
	for i, lab := range r.NC.Labels {
		if lab == l {
			fullL1 = fmt.Sprintf("%.1f", r.NC.L1[i])
		}
	}
	return []string{r.Name, img(docDir, paths[0]), img(docDir, paths[1]), img(docDir, paths[2]), mark(l, r.Target),
		fmt.Sprintf("%.1f", r.EBYDL1), fmt.Sprintf("%.0f", r.EBYDSeconds), fmt.Sprintf("%.0f", r.NCSeconds), fullL1}, nil
}
