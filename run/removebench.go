package run

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"ebyd/internal/atomicfile"
	"ebyd/remove"
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
	chain := &Chain{Suspect: f.Dir, Dir: dir, Decision: DecisionGap, DefenseSize: cfg.DefenseSize, DefenseSeed: cfg.DefenseSeed, Reuse: !opts.Force}
	if cfg.Detection != "" {
		chain.Dir, chain.Reuse = filepath.Join(cfg.Detection, name), true
		if err := chain.Done(); err != nil {
			return row, fmt.Errorf("the detection benchmark %s has no exposure and targeted NC of %s: %w", cfg.Detection, name, err)
		}
	}
	_, det, err := chain.Detect(ctx, opts)
	if err != nil {
		return row, err
	}
	row.DetectedTarget = *det.PredictedTarget

	for _, method := range cfg.Methods {
		out := filepath.Join(dir, "remove-"+method)
		rf, err := Open(out)
		if err != nil || opts.Force {
			m := Method{Name: method, Params: cfg.Params[method]}
			if remove.NeedsExposed(method) {
				_, err = chain.Remove(ctx, m, out, opts)
			} else {
				// The baselines are not part of the chain: they get the
				// same defense images, drawn alike, and neither the
				// exposure nor the recovered trigger.
				rc := RemoveConfig{Run: f.Dir, Method: method, Params: m.Params, DefenseSize: cmp.Or(cfg.DefenseSize, DefaultDefenseSize), Seed: cfg.DefenseSeed}
				_, err = Remove(ctx, rc, sub("remove-"+method))
			}
			if err != nil {
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
