package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"ebyd/internal/atomicfile"
	"ebyd/remove"
	"ebyd/report"
)

// RemoveBenchConfig runs removal methods against backdoored runs, all with
// the same defense set, for docs/removal.md. Every suspect is exposed and
// its trigger recovered once (the EBYD chain's own stages, or those a
// detection benchmark already ran), then each method removes from the
// suspect model.
type RemoveBenchConfig struct {
	Suspects []string `json:"suspects"` // backdoored run folders written by ebyd train
	Methods  []string `json:"methods"`  // nil: every remove method
	// Params overrides methods' parameters (JSON), by method name.
	Params map[string]json.RawMessage `json:"params,omitempty"`
	// Detection, when set, is a detection benchmark folder (DetectBench)
	// whose exposure and targeted NC of a suspect are reused.
	Detection   string `json:"detection,omitempty"`
	DefenseSize int    `json:"defense_size"`
	DefenseSeed uint64 `json:"defense_seed"`
}

// RemoveBenchFile is the summary a removal benchmark writes into its folder.
const RemoveBenchFile = "removal.json"

// RemoveBenchRow is one suspect and what every method left of it.
type RemoveBenchRow struct {
	Name     string  `json:"name"`
	Dir      string  `json:"dir"`
	Attack   string  `json:"attack"`
	Target   int     `json:"target"`
	CleanAcc float64 `json:"clean_acc"`
	ASR      float64 `json:"asr"`
	// DetectedTarget is the target the exposure and targeted NC named,
	// whose recovered trigger the pruning methods' fine-tuning unlearns.
	DetectedTarget int               `json:"detected_target"`
	Results        []RemoveBenchCell `json:"results"`
}

// RemoveBenchCell is one method's outcome on one suspect.
type RemoveBenchCell struct {
	Method   string  `json:"method"`
	CleanAcc float64 `json:"clean_acc"`
	ASR      float64 `json:"asr"`
	Pruned   int     `json:"pruned"`
	Seconds  float64 `json:"seconds"`
	Procs    int     `json:"gomaxprocs"` // GOMAXPROCS of the removal run
}

// RemoveBenchResult is RemoveBenchFile's content.
type RemoveBenchResult struct {
	Config  RemoveBenchConfig `json:"config"`
	Rows    []RemoveBenchRow  `json:"rows"`
	Engine  Engine            `json:"engine"`
	Created string            `json:"created"`
}

// RemoveBench runs the benchmark into opts.Out: per suspect a sub-folder
// with the exposed run, the detect folder (unless reused) and one remove
// run folder per method. A method whose folder exists is not run again,
// so an interrupted benchmark resumes; opts.Force reruns all.
func RemoveBench(ctx context.Context, cfg RemoveBenchConfig, opts Options) (*RemoveBenchResult, error) {
	if opts.Out == "" {
		return nil, errors.New("no output folder given (--out)")
	}
	if len(cfg.Suspects) == 0 {
		return nil, errors.New("no suspect runs given")
	}
	if cfg.Methods == nil {
		cfg.Methods = remove.Names()
	}
	for _, m := range cfg.Methods {
		if _, err := remove.New(m, cfg.Params[m]); err != nil {
			return nil, err
		}
	}
	for m := range cfg.Params {
		if !slices.Contains(cfg.Methods, m) {
			return nil, fmt.Errorf("parameters for %s, which the benchmark does not run", m)
		}
	}
	seen := map[string]string{}
	var folders []*Folder
	for _, dir := range cfg.Suspects {
		f, err := Open(dir)
		if err != nil {
			return nil, err
		}
		own, _, err := f.Attack()
		if err != nil {
			return nil, err
		}
		if own == nil {
			return nil, fmt.Errorf("%s is a clean run; the removal benchmark takes backdoored runs", dir)
		}
		name := filepath.Base(filepath.Clean(dir))
		if other, dup := seen[name]; dup {
			return nil, fmt.Errorf("%s and %s have the same folder name %q; the benchmark names its sub-folders after them", other, dir, name)
		}
		seen[name] = dir
		folders = append(folders, f)
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	res := &RemoveBenchResult{Config: cfg, Engine: CurrentEngine(), Created: time.Now().UTC().Format(time.RFC3339)}
	for i, f := range folders {
		name := filepath.Base(filepath.Clean(f.Dir))
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "removal %d/%d: %s\n", i+1, len(folders), name)
		}
		row, err := cfg.suspect(ctx, f, name, filepath.Join(opts.Out, name), opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Dir, err)
		}
		res.Rows = append(res.Rows, row)
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	return res, atomicfile.WriteFile(filepath.Join(opts.Out, RemoveBenchFile), append(b, '\n'))
}

func (cfg *RemoveBenchConfig) suspect(ctx context.Context, f *Folder, name, dir string, opts Options) (RemoveBenchRow, error) {
	m := f.Manifest
	own, _, _ := f.Attack()
	row := RemoveBenchRow{Name: name, Dir: f.Dir, Attack: own.Name, Target: own.Target, CleanAcc: m.Metrics["clean_acc"], ASR: m.Metrics["asr"]}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return row, err
	}
	sub := func(s string) Options {
		o := opts
		o.Out, o.Force = filepath.Join(dir, s), true
		return o
	}
	// The exposure and the recovered trigger: a detection benchmark's, or
	// made here once.
	exposed, trigger := filepath.Join(dir, benchExposed), filepath.Join(dir, benchEBYD)
	if cfg.Detection != "" {
		exposed, trigger = filepath.Join(cfg.Detection, name, benchExposed), filepath.Join(cfg.Detection, name, benchEBYD)
	}
	if _, err := Open(exposed); err != nil || opts.Force && cfg.Detection == "" {
		if cfg.Detection != "" {
			return row, fmt.Errorf("the detection benchmark %s has no exposure of %s: %w", cfg.Detection, name, err)
		}
		if _, err := Expose(ctx, ExposeConfig{Run: f.Dir, DefenseSize: cfg.DefenseSize, Seed: cfg.DefenseSeed}, sub(benchExposed)); err != nil {
			return row, fmt.Errorf("expose: %w", err)
		}
	}
	if _, err := Open(trigger); err != nil || opts.Force && cfg.Detection == "" {
		if cfg.Detection != "" {
			return row, fmt.Errorf("the detection benchmark %s has no targeted NC of %s: %w", cfg.Detection, name, err)
		}
		if _, err := Detect(ctx, DetectConfig{Run: f.Dir, Exposed: exposed, Method: "nc"}, sub(benchEBYD)); err != nil {
			return row, fmt.Errorf("targeted nc: %w", err)
		}
	}
	b, err := os.ReadFile(filepath.Join(trigger, DetectFile))
	if err != nil {
		return row, err
	}
	var det DetectResult
	if err := json.Unmarshal(b, &det); err != nil || det.PredictedTarget == nil {
		return row, fmt.Errorf("%s: no predicted target (%v)", trigger, err)
	}
	row.DetectedTarget = *det.PredictedTarget

	for _, method := range cfg.Methods {
		out := filepath.Join(dir, "remove-"+method)
		rf, err := Open(out)
		if err != nil || opts.Force {
			rc := RemoveConfig{Run: f.Dir, Exposed: exposed, Trigger: trigger, Method: method, Params: cfg.Params[method]}
			if !remove.NeedsExposed(method) {
				// The baselines get the same defense images, drawn alike,
				// and neither the exposure nor the recovered trigger.
				rc.Exposed, rc.Trigger, rc.DefenseSize, rc.Seed = "", "", orDefault(cfg.DefenseSize, DefaultDefenseSize), cfg.DefenseSeed
			}
			if _, err := Remove(ctx, rc, sub("remove-"+method)); err != nil {
				return row, fmt.Errorf("%s: %w", method, err)
			}
			if rf, err = Open(out); err != nil {
				return row, err
			}
		}
		mm := rf.Manifest
		row.Results = append(row.Results, RemoveBenchCell{Method: method, CleanAcc: mm.Metrics["clean_acc"], ASR: mm.Metrics["asr"],
			Pruned: int(mm.Metrics["pruned"]), Seconds: mm.Seconds["total"], Procs: mm.Engine.GOMAXPROCS})
	}
	return row, nil
}

// WriteRemovalDoc writes the tables of a removal benchmark folder into the
// document's generated section "removal tables".
func WriteRemovalDoc(bench, doc string) error {
	raw, err := os.ReadFile(filepath.Join(bench, RemoveBenchFile))
	if err != nil {
		return fmt.Errorf("%s: %w (run the benchmark first: ebyd bench removal --out %s)", bench, err, bench)
	}
	var res RemoveBenchResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(bench, RemoveBenchFile), err)
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
		orDefault(res.Config.DefenseSize, DefaultDefenseSize), res.Config.DefenseSeed, e.BLAS, e.Conv, strings.Trim(fmt.Sprint(procs), "[]"))
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
		cell  func(r RemoveBenchRow, c RemoveBenchCell) float64
		base  func(r RemoveBenchRow) float64
	}{
		{"ASR after removal (%)", func(_ RemoveBenchRow, c RemoveBenchCell) float64 { return 100 * c.ASR }, func(r RemoveBenchRow) float64 { return 100 * r.ASR }},
		{"CA drop (points; negative: CA rose)", func(r RemoveBenchRow, c RemoveBenchCell) float64 { return 100 * (r.CleanAcc - c.CleanAcc) }, nil},
		{"CA after removal (%)", func(_ RemoveBenchRow, c RemoveBenchCell) float64 { return 100 * c.CleanAcc }, func(r RemoveBenchRow) float64 { return 100 * r.CleanAcc }},
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
				i := slices.IndexFunc(r.Results, func(c RemoveBenchCell) bool { return c.Method == m })
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
