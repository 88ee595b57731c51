package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"ebyd/attack"
	"ebyd/detect"
	"ebyd/internal/atomicfile"
	"ebyd/internal/userfile"
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

// The sub-folders of a suspect's folder in a detection benchmark besides
// the chain's, and its row.
const (
	benchFullNC = "nc-full"
	benchRow    = "row.json"
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
		if b, err := userfile.ReadFile(filepath.Join(dir, benchRow)); err == nil && !opts.Force && json.Unmarshal(b, &row) == nil && sameDir(row.Dir, f.Dir) {
			if ex, err := Open(filepath.Join(dir, ChainExposed)); err == nil {
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
	var nc json.RawMessage
	if cfg.NCEpochs > 0 {
		nc = json.RawMessage(fmt.Sprintf(`{"epochs": %d}`, cfg.NCEpochs))
	}
	chain := &Chain{Suspect: f.Dir, Dir: dir, Expose: Method{Name: cfg.Expose, Params: cfg.ExposeParams}, Decision: DecisionGap, Candidates: cfg.Candidates,
		NC: nc, DefenseSize: cfg.DefenseSize, DefenseSeed: cfg.DefenseSeed}
	ex, t, err := chain.Detect(ctx, opts)
	if err != nil {
		return row, err
	}
	row.ExposeTarget, row.ExposeSeconds, row.Procs = ex.PredictedTarget, ex.Seconds, ex.Manifest.Engine.GOMAXPROCS
	for _, c := range ex.Candidates {
		row.Ranking = append(row.Ranking, c.Label)
	}
	v := detect.NewVariance()
	r := v.Decide(ex.ClassShare)
	row.Variance, row.VarianceFlag = r.Score, r.Backdoored

	// Full NC on the same images drawn afresh: both see the one defense set.
	if t.NC == nil || t.NC.Gap == nil {
		return row, errors.New("targeted nc: no candidate gap (fewer than 2 candidates)")
	}
	row.EBYD, row.EBYDSeconds = *t.NC.Gap, t.NC.Seconds
	for _, tr := range t.NC.Triggers {
		if tr.Label == row.EBYD.Target {
			row.EBYDL1 = tr.L1
		}
	}
	sub := func(s string) Options {
		o := opts
		o.Out, o.Force = filepath.Join(dir, s), true
		return o
	}
	full, err := Detect(ctx, DetectConfig{Run: f.Dir, Method: "nc", DefenseSize: cfg.DefenseSize, DefenseSeed: cfg.DefenseSeed, Params: nc}, sub(benchFullNC))
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
