package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"ebyd/attack"
	"ebyd/detect"
	"ebyd/internal/atomicfile"
	"ebyd/metrics"
	"ebyd/report"
)

// DetectBenchConfig runs every detector of the EBYD chain on a pool of
// suspect runs, clean and backdoored, for docs/detection.md: label
// detection by exposure (cul) and targeted NC beside plain full NC on the
// suspect, model detection by the exposed model's share variance, the
// candidate gap and NC's anomaly index, and sample detection (STRIP, CD)
// on the runs of the SampleAttacks.
type DetectBenchConfig struct {
	Suspects []string `json:"suspects"` // run folders written by ebyd train
	// Expose is the exposure method ("" for the default, cul) and
	// ExposeParams its parameters (expose.New).
	Expose       string          `json:"expose"`
	ExposeParams json.RawMessage `json:"expose_params,omitempty"`
	// NCEpochs, when positive, overrides Neural Cleanse's epochs per label.
	NCEpochs int `json:"nc_epochs,omitempty"`
	// The defense set every detector gets: DefenseSize (0:
	// DefaultDefenseSize) clean training images drawn with DefenseSeed.
	DefenseSize int    `json:"defense_size"`
	DefenseSeed uint64 `json:"defense_seed"`
	Candidates  int    `json:"candidates"` // targeted NC's labels (0: DefaultCandidates)
	// SampleAttacks are the attacks whose runs STRIP and CD score
	// (nil: badnets, blend and wanet); Samples as DetectConfig's.
	SampleAttacks []string `json:"sample_attacks"`
	Samples       int      `json:"samples"`
}

// DetectBenchFile is the summary a detection benchmark writes into its
// folder, one row per suspect.
const DetectBenchFile = "detection.json"

// DetectBenchRow is what every detector said about one suspect.
type DetectBenchRow struct {
	Name     string      `json:"name"` // the suspect's sub-folder of the benchmark
	Dir      string      `json:"dir"`  // the suspect run folder
	Attack   string      `json:"attack,omitempty"`
	Mode     attack.Mode `json:"mode,omitempty"`
	Target   *int        `json:"target,omitempty"` // absent for clean and all2all runs
	CleanAcc float64     `json:"clean_acc"`
	ASR      *float64    `json:"asr,omitempty"`

	// Exposure: the label the exposed model predicts most, the ranking of
	// every label, and the exposed model's class-share variance (the
	// seed's model score, backdoored above 0.01).
	ExposeTarget  int     `json:"expose_target"`
	Ranking       []int   `json:"ranking"`
	Variance      float64 `json:"variance"`
	VarianceFlag  bool    `json:"variance_backdoored"`
	ExposeSeconds float64 `json:"expose_seconds"`
	Procs         int     `json:"gomaxprocs"` // GOMAXPROCS of the exposure

	// Targeted NC on the suspect over the exposure's candidates.
	EBYD        detect.CandidateGap `json:"ebyd"`
	EBYDL1      float64             `json:"ebyd_mask_l1"` // the predicted target's mask
	EBYDSeconds float64             `json:"ebyd_nc_seconds"`

	// Full NC on the suspect: every label.
	NC        detect.Anomaly `json:"nc"`
	NCSeconds float64        `json:"nc_seconds"`

	STRIP *SampleDetection `json:"strip,omitempty"`
	CD    *SampleDetection `json:"cd,omitempty"`
}

// DetectBenchResult is DetectBenchFile's content.
type DetectBenchResult struct {
	Config  DetectBenchConfig `json:"config"`
	Rows    []DetectBenchRow  `json:"rows"`
	Engine  Engine            `json:"engine"`
	Created string            `json:"created"`
}

// The sub-folders of a suspect's folder in a detection benchmark.
const (
	benchExposed = "exposed"
	benchEBYD    = "nc-targeted"
	benchFullNC  = "nc-full"
	benchRow     = "row.json"
)

// DetectBench runs the benchmark into opts.Out, one sub-folder per suspect
// (named after the run folder) holding the exposed run, both NC results
// with their images, and the row. A suspect whose row exists is not run
// again, so an interrupted benchmark resumes; opts.Force reruns all.
func DetectBench(ctx context.Context, cfg DetectBenchConfig, opts Options) (*DetectBenchResult, error) {
	if opts.Out == "" {
		return nil, errors.New("no output folder given (--out)")
	}
	if len(cfg.Suspects) == 0 {
		return nil, errors.New("no suspect runs given")
	}
	if cfg.SampleAttacks == nil {
		cfg.SampleAttacks = []string{"badnets", "blend", "wanet"}
	}
	if cfg.Candidates == 0 {
		cfg.Candidates = DefaultCandidates
	}
	names := map[string]string{}
	var folders []*Folder
	for _, dir := range cfg.Suspects {
		f, err := Open(dir)
		if err != nil {
			return nil, err
		}
		if f.Manifest.Stage != "train" {
			return nil, fmt.Errorf("%s is a %s run; the benchmark takes models written by ebyd train", dir, f.Manifest.Stage)
		}
		name := filepath.Base(filepath.Clean(dir))
		if other, dup := names[name]; dup {
			return nil, fmt.Errorf("%s and %s have the same folder name %q; the benchmark names its sub-folders after them", other, dir, name)
		}
		names[name] = dir
		folders = append(folders, f)
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	res := &DetectBenchResult{Config: cfg, Engine: CurrentEngine(), Created: time.Now().UTC().Format(time.RFC3339)}
	for i, f := range folders {
		name := filepath.Base(filepath.Clean(f.Dir))
		dir := filepath.Join(opts.Out, name)
		var row DetectBenchRow
		if b, err := os.ReadFile(filepath.Join(dir, benchRow)); err == nil && !opts.Force && json.Unmarshal(b, &row) == nil && sameDir(row.Dir, f.Dir) {
			if ex, err := Open(filepath.Join(dir, benchExposed)); err == nil {
				row.Procs = ex.Manifest.Engine.GOMAXPROCS // rows of older versions lack it
			}
			res.Rows = append(res.Rows, row)
			continue
		}
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "detection %d/%d: %s\n", i+1, len(folders), name)
		}
		row, err := cfg.suspect(ctx, f, name, dir, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Dir, err)
		}
		b, err := json.MarshalIndent(row, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, benchRow), append(b, '\n')); err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, row)
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	return res, atomicfile.WriteFile(filepath.Join(opts.Out, DetectBenchFile), append(b, '\n'))
}

// suspect runs every detector on one suspect run.
func (cfg *DetectBenchConfig) suspect(ctx context.Context, f *Folder, name, dir string, opts Options) (DetectBenchRow, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return DetectBenchRow{}, err
	}
	m := f.Manifest
	row := DetectBenchRow{Name: name, Dir: f.Dir, CleanAcc: m.Metrics["clean_acc"]}
	own, _, err := f.Attack()
	if err != nil {
		return row, err
	}
	if own != nil {
		asr := m.Metrics["asr"]
		row.Attack, row.Mode, row.ASR = own.Name, own.Mode, &asr
		if own.Mode != attack.All2All {
			t := own.Target
			row.Target = &t
		}
	}
	sub := func(s string) Options {
		o := opts
		o.Out, o.Force = filepath.Join(dir, s), true
		return o
	}

	ex, err := Expose(ctx, ExposeConfig{Run: f.Dir, Method: cfg.Expose, Params: cfg.ExposeParams, DefenseSize: cfg.DefenseSize, Seed: cfg.DefenseSeed}, sub(benchExposed))
	if err != nil {
		return row, fmt.Errorf("expose: %w", err)
	}
	exposed := filepath.Join(dir, benchExposed)
	row.ExposeTarget, row.ExposeSeconds, row.Procs = ex.PredictedTarget, ex.Seconds, ex.Manifest.Engine.GOMAXPROCS
	for _, c := range ex.Candidates {
		row.Ranking = append(row.Ranking, c.Label)
	}
	v := detect.NewVariance()
	r := v.Decide(ex.ClassShare)
	row.Variance, row.VarianceFlag = r.Score, r.Backdoored

	// Targeted NC on the exposure's defense set, full NC on the same
	// images drawn afresh: both see the one defense set.
	var nc *detect.NeuralCleanse
	if cfg.NCEpochs > 0 {
		nc = detect.NewNeuralCleanse()
		nc.Epochs = cfg.NCEpochs
	}
	t, err := Detect(ctx, DetectConfig{Run: f.Dir, Exposed: exposed, Method: "nc", Candidates: cfg.Candidates, NC: nc}, sub(benchEBYD))
	if err != nil {
		return row, fmt.Errorf("targeted nc: %w", err)
	}
	if t.NC == nil || t.NC.Gap == nil {
		return row, errors.New("targeted nc: no candidate gap (fewer than 2 candidates)")
	}
	row.EBYD, row.EBYDSeconds = *t.NC.Gap, t.NC.Seconds
	for _, tr := range t.NC.Triggers {
		if tr.Label == row.EBYD.Target {
			row.EBYDL1 = tr.L1
		}
	}
	full, err := Detect(ctx, DetectConfig{Run: f.Dir, Method: "nc", DefenseSize: cfg.DefenseSize, DefenseSeed: cfg.DefenseSeed, NC: nc}, sub(benchFullNC))
	if err != nil {
		return row, fmt.Errorf("full nc: %w", err)
	}
	if full.NC == nil || full.NC.Anomaly == nil {
		return row, errors.New("full nc: no anomaly test")
	}
	row.NC, row.NCSeconds = *full.NC.Anomaly, full.NC.Seconds

	if own != nil && slices.Contains(cfg.SampleAttacks, own.Name) {
		for _, method := range []string{"strip", "cd"} {
			s, err := Detect(ctx, DetectConfig{Run: f.Dir, Method: method, DefenseSize: cfg.DefenseSize, DefenseSeed: cfg.DefenseSeed, Samples: cfg.Samples}, Options{Progress: opts.Progress, Live: opts.Live, Columns: opts.Columns})
			if err != nil {
				return row, fmt.Errorf("%s: %w", method, err)
			}
			if method == "strip" {
				row.STRIP = s.Samples
			} else {
				row.CD = s.Samples
			}
		}
	}
	return row, nil
}

// WorkingASR is the attack success rate from which the detection document
// counts a run as backdoored in its model-detection pool; weaker backdoors
// are listed beside it but left out of the AUROC (they barely act).
const WorkingASR = 0.9

// WriteDetectionDoc writes the tables of a detection benchmark folder into
// the document's generated section "detection tables", with the triggers
// targeted NC recovered for BadNets and Blend runs beside the true ones
// (pictures under img/detection/ beside the document).
func WriteDetectionDoc(bench, doc string) error {
	raw, err := os.ReadFile(filepath.Join(bench, DetectBenchFile))
	if err != nil {
		return fmt.Errorf("%s: %w (run the benchmark first: ebyd bench detection --out %s)", bench, err, bench)
	}
	var res DetectBenchResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(bench, DetectBenchFile), err)
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
		orDefault(res.Config.DefenseSize, DefaultDefenseSize), res.Config.DefenseSeed, orName(res.Config.Expose, "cul"),
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
		val        func(DetectBenchRow) float64
		flag       func(DetectBenchRow) bool
	}
	scores := []score{
		{"exposed model's share variance (seed)", "> 0.01", func(r DetectBenchRow) float64 { return r.Variance }, func(r DetectBenchRow) bool { return r.VarianceFlag }},
		{"EBYD candidate gap", fmt.Sprintf("≥ %g", detect.DefaultGapThreshold), func(r DetectBenchRow) float64 { return r.EBYD.Gap }, func(r DetectBenchRow) bool { return r.EBYD.Backdoored }},
		{"full NC anomaly index", "> 2", func(r DetectBenchRow) float64 { return r.NC.Max }, func(r DetectBenchRow) bool { return r.NC.Backdoored }},
		{"full NC norm ratio (lower is suspicious)", "none", func(r DetectBenchRow) float64 { return -r.NC.Ratio }, nil},
	}
	rows = rows[:0]
	var pool []DetectBenchRow
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
func triggerCells(bench string, r DetectBenchRow, imgDir, docDir string) ([]string, error) {
	f, err := Open(r.Dir)
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
		im, err := attack.ReadImage(filepath.Join(bench, r.Name, benchEBYD, fmt.Sprintf("%s_%d.png", kind, l)))
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

// mark writes a predicted label with ✓ or ✗ against the truth (nothing
// when there is no single target).
func mark(got int, want *int) string {
	switch {
	case want == nil:
		return fmt.Sprint(got)
	case got == *want:
		return fmt.Sprintf("%d ✓", got)
	}
	return fmt.Sprintf("%d ✗", got)
}

func flagged(l []int) string {
	if len(l) == 0 {
		return "none"
	}
	return fmt.Sprint(l)
}

func star(b bool) string {
	if b {
		return "*"
	}
	return ""
}

func orDefault(n, d int) int {
	if n == 0 {
		return d
	}
	return n
}

func orName(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
