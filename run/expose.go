package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"ebyd/attack"
	"ebyd/data"
	"ebyd/expose"
	"ebyd/fit"
	"ebyd/internal/userfile"
	"ebyd/nn"
)

// ExposeConfig asks for a suspect run's model to be exposed (package
// expose) on a clean defense set drawn from the run's training split.
type ExposeConfig struct {
	Run    string `json:"run"`
	Method string `json:"method"` // "" means expose.Default
	// Params are the method's parameters as JSON (expose.New); after the
	// stage they hold every parameter with its default filled in.
	Params json.RawMessage `json:"params,omitempty"`
	// DefenseSize is the number of clean training images the defender
	// gets (0: DefaultDefenseSize, 500), drawn from Seed.
	DefenseSize int    `json:"defense_size"`
	Seed        uint64 `json:"seed"`
	// WithASR has the evaluator measure the attack success rate of the
	// suspect run's own trigger after every trace row. The trigger and the
	// test images stay here, in the run stage; the exposure method only
	// receives a function of the model.
	WithASR bool `json:"with_asr,omitempty"`
	// TestSubset, when positive, measures ASR on a seeded random subset of
	// that many of the run's test images (0: all of them).
	TestSubset int `json:"test_subset,omitempty"`
	EvalBatch  int `json:"eval_batch"`
}

// The files an expose run folder holds besides run.json and model.safetensors.
const (
	TraceFile      = "trace.csv"
	DefenseFile    = "defense_indices.json"
	CandidatesFile = "candidates.json"
)

// ExposeResult is what an exposure found.
type ExposeResult struct {
	Dir    string `json:"run"`
	Parent string `json:"parent"`
	Method string `json:"method"`
	// PredictedTarget is the label the exposed model predicts most on the
	// defense images, ClassShare the share of each label.
	PredictedTarget int       `json:"predicted_target"`
	ClassShare      []float64 `json:"class_share"`
	// Candidates ranks every label as the backdoor target with the method's
	// score, most likely first.
	Candidates []expose.Candidate `json:"candidates"`
	// Rounds are the rounds of a multi-round method (cul), whose first
	// round made the exposed model and the trace.
	Rounds            []expose.Round `json:"rounds,omitempty"`
	InitialDefenseAcc float64        `json:"initial_defense_acc"`
	DefenseAcc        float64        `json:"defense_acc"`
	Rows              int            `json:"rows"` // trace rows after row 0: epochs, rates or levels
	Stop              string         `json:"stop"`
	ASR               *float64       `json:"asr,omitempty"`         // after exposure, with WithASR
	InitialASR        *float64       `json:"initial_asr,omitempty"` // before, with WithASR
	DefenseSize       int            `json:"defense_size"`
	Seconds           float64        `json:"seconds"`
	Trace             *expose.Trace  `json:"-"`
	Manifest          *Manifest      `json:"-"`
}

// candidatesFile is CandidatesFile's content.
type candidatesFile struct {
	Method          string             `json:"method"`
	PredictedTarget int                `json:"predicted_target"`
	ClassShare      []float64          `json:"class_share"`
	Candidates      []expose.Candidate `json:"candidates"`
	Rounds          []expose.Round     `json:"rounds,omitempty"`
	Stop            string             `json:"stop"`
}

// defenseFile is DefenseFile's content.
type defenseFile struct {
	Seed    uint64 `json:"seed"`
	Indices []int  `json:"indices"` // into the run's training split, ascending
}

func (c *ExposeConfig) resolve() error {
	if c.Run == "" {
		return errors.New("no suspect run given (--run)")
	}
	if c.Method == "" {
		c.Method = expose.Default
	}
	c.Method = strings.ToLower(c.Method)
	if c.DefenseSize == 0 {
		c.DefenseSize = DefaultDefenseSize
	}
	if c.EvalBatch == 0 {
		c.EvalBatch = DefaultEvalBatch
	}
	switch {
	case c.DefenseSize < 1:
		return fmt.Errorf("--defense-size %d: must be at least 1", c.DefenseSize)
	case c.TestSubset < 0:
		return fmt.Errorf("--test-subset %d: must not be negative", c.TestSubset)
	case c.EvalBatch < 1:
		return fmt.Errorf("eval batch %d: must be at least 1", c.EvalBatch)
	}
	return nil
}

// Expose exposes the model of the run folder cfg.Run and writes the exposed
// model, its trace and the defense set into the run folder opts.Out, whose
// manifest names the suspect run as its parent. Nothing is written unless
// everything succeeds.
func Expose(ctx context.Context, cfg ExposeConfig, opts Options) (*ExposeResult, error) {
	start := time.Now()
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	method, err := expose.New(cfg.Method, cfg.Params)
	if err != nil {
		return nil, err
	}
	if err := CheckOut(opts.Out, opts.Force); err != nil {
		return nil, err
	}
	f, err := Open(cfg.Run)
	if err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(opts.Out); err == nil {
		if src, err := filepath.Abs(f.Dir); err == nil && abs == src {
			return nil, fmt.Errorf("--out %s is the suspect run itself; write the exposed model elsewhere", opts.Out)
		}
	}
	var trig attack.Trigger
	var bd *AttackConfig
	if cfg.WithASR {
		if bd, trig, err = f.Attack(); err != nil {
			return nil, err
		}
		if trig == nil {
			return nil, fmt.Errorf("--with-asr: run %s has no backdoor of its own to measure (a clean or imported run)", f.Dir)
		}
	}
	model, err := f.Model()
	if err != nil {
		return nil, err
	}

	t := time.Now()
	man, err := newManifest("expose", opts.Command, cfg.Seed, cfg)
	if err != nil {
		return nil, err
	}
	if err := man.setParent(f); err != nil {
		return nil, err
	}
	man.Dataset, man.Model = f.Manifest.Dataset, f.Manifest.Model
	fullTrain, fullTest, err := f.Data()
	if err != nil {
		return nil, err
	}
	def, _, err := defenseSet(f, fullTrain, nil, cfg.DefenseSize, cfg.Seed)
	if err != nil {
		return nil, err
	}
	env := expose.Env{Seed: cfg.Seed}
	if cfg.WithASR {
		test, err := man.Dataset.Test.Select(fullTest)
		if err != nil {
			return nil, fmt.Errorf("the test split of %s: %w", f.Dir, err)
		}
		if cfg.TestSubset > 0 {
			if test, _, err = subset(fullTest, cfg.TestSubset, cfg.Seed, "test"); err != nil {
				return nil, err
			}
		}
		mode := bd.Mode
		if mode == "" {
			mode = attack.All2One
		}
		triggered, err := attack.TestSet(test, trig, attack.Poisoning{Mode: mode, Target: bd.Target, Rate: 1})
		if err != nil {
			return nil, err
		}
		env.ASR = func(m nn.Module) (float64, error) { return fit.Accuracy(m, triggered, cfg.EvalBatch) }
	}
	man.Seconds["load_data"] = since(t)

	t = time.Now()
	var prog *Progress
	env.Progress = func(done, total int, status string) {
		if prog == nil {
			prog = opts.progress("expose "+cfg.Method, total)
		}
		prog.Update(done, status)
	}
	trace, err := method.Expose(ctx, model, def, env)
	if err != nil {
		return nil, err
	}
	final := trace.Final()
	prog.Done(fmt.Sprintf("defense acc %.2f%%  predicted target %d (%.0f%% of the defense images)", 100*final.DefenseAcc, trace.Predicted(), 100*final.Share[trace.Predicted()]))
	man.Seconds["expose"] = since(t)
	cfg.Params = expose.Params(method)
	if man.Config, err = json.Marshal(cfg); err != nil {
		return nil, err
	}

	res := &ExposeResult{
		Parent: f.Dir, Method: cfg.Method,
		PredictedTarget: trace.Predicted(), ClassShare: final.Share, Candidates: trace.Candidates, Rounds: trace.Rounds,
		InitialDefenseAcc: trace.Rows[0].DefenseAcc, DefenseAcc: final.DefenseAcc,
		Rows: len(trace.Rows) - 1, Stop: trace.Stop, ASR: final.ASR, InitialASR: trace.Rows[0].ASR,
		DefenseSize: def.Len(), Trace: trace, Manifest: man,
	}
	man.Metrics["predicted_target"] = float64(res.PredictedTarget)
	man.Metrics["predicted_share"] = final.Share[res.PredictedTarget]
	man.Metrics["defense_acc"] = final.DefenseAcc
	man.Metrics["initial_defense_acc"] = res.InitialDefenseAcc
	man.Metrics["rows"] = float64(res.Rows)
	if final.ASR != nil {
		man.Metrics["asr"] = *final.ASR
		man.Metrics["initial_asr"] = *trace.Rows[0].ASR
	}

	files := map[string][]byte{TraceFile: traceCSV(trace, def.Classes())}
	if files[DefenseFile], err = json.Marshal(defenseFile{Seed: cfg.Seed, Indices: def.Indices()}); err != nil {
		return nil, err
	}
	if files[CandidatesFile], err = json.MarshalIndent(candidatesFile{
		Method: cfg.Method, PredictedTarget: res.PredictedTarget, ClassShare: final.Share,
		Candidates: trace.Candidates, Rounds: trace.Rounds, Stop: trace.Stop,
	}, "", "  "); err != nil {
		return nil, err
	}
	if err := checkFinite(StateDict(model)); err != nil {
		return nil, fmt.Errorf("the exposed model: %w", err)
	}
	man.Seconds["total"] = since(start)
	res.Seconds = man.Seconds["total"]
	if err := Save(opts.Out, opts.Force, Contents{Manifest: man, Model: model, Files: files}); err != nil {
		return nil, err
	}
	res.Dir = opts.Out
	return res, err
}

// traceCSV writes the trace as CSV: epoch, level (for the methods that
// have levels), defense_acc, loss, lr, share_0..share_{K-1}, and asr when
// it was measured.
func traceCSV(t *expose.Trace, classes int) []byte {
	levels, asr := false, false
	for _, r := range t.Rows {
		levels = levels || r.Level != 0
		asr = asr || r.ASR != nil
	}
	var b bytes.Buffer
	cols := []string{"epoch"}
	if levels {
		cols = append(cols, "level")
	}
	cols = append(cols, "defense_acc", "loss", "lr")
	for k := range classes {
		cols = append(cols, "share_"+strconv.Itoa(k))
	}
	if asr {
		cols = append(cols, "asr")
	}
	b.WriteString(strings.Join(cols, ",") + "\n")
	num := func(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }
	for _, r := range t.Rows {
		vals := []string{strconv.Itoa(r.Epoch)}
		if levels {
			vals = append(vals, num(r.Level))
		}
		vals = append(vals, num(r.DefenseAcc), num(r.Loss), num(r.LR))
		for _, s := range r.Share {
			vals = append(vals, num(s))
		}
		if asr {
			v := ""
			if r.ASR != nil {
				v = num(*r.ASR)
			}
			vals = append(vals, v)
		}
		b.WriteString(strings.Join(vals, ",") + "\n")
	}
	return b.Bytes()
}

// Defense rebuilds the clean defense set an expose run drew (the same
// images, from the same split and seed), for the stages that work on its
// exposed model: detection and removal get exactly the defender's data.
func (f *Folder) Defense() (*data.Defense, error) {
	if f.Manifest.Stage != "expose" {
		return nil, fmt.Errorf("run folder %s is a %s run, not an expose run: it has no defense set", f.Dir, f.Manifest.Stage)
	}
	var cfg ExposeConfig
	if err := json.Unmarshal(f.Manifest.Config, &cfg); err != nil {
		return nil, fmt.Errorf("%s: corrupt config: %w", filepath.Join(f.Dir, ManifestFile), err)
	}
	fullTrain, _, err := f.Data()
	if err != nil {
		return nil, err
	}
	train, err := f.Manifest.Dataset.Train.Select(fullTrain)
	if err != nil {
		return nil, err
	}
	def, err := data.NewDefense(train, cfg.DefenseSize, cfg.Seed)
	if err != nil {
		return nil, err
	}
	// The saved indices must agree with the redrawn ones.
	b, err := userfile.ReadFile(filepath.Join(f.Dir, DefenseFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("run folder %s has no %s", f.Dir, DefenseFile)
	}
	if err != nil {
		return nil, err
	}
	var saved defenseFile
	if err := json.Unmarshal(b, &saved); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(f.Dir, DefenseFile), err)
	}
	got := def.Indices()
	if len(saved.Indices) != len(got) {
		return nil, fmt.Errorf("%s lists %d images, the config draws %d", filepath.Join(f.Dir, DefenseFile), len(saved.Indices), len(got))
	}
	for i := range got {
		if got[i] != saved.Indices[i] {
			return nil, fmt.Errorf("%s does not match the defense set its config draws", filepath.Join(f.Dir, DefenseFile))
		}
	}
	return def, nil
}

// defenseSet is the defense set a stage on run f gives its method: the
// exposed run's own when exposed is given and size is 0, otherwise size
// (0: DefaultDefenseSize) images of f's training split (fullTrain, as
// f.Data returns it) drawn with seed, as ebyd expose draws them.
func defenseSet(f *Folder, fullTrain *data.Dataset, exposed *Folder, size int, seed uint64) (def *data.Defense, fromExposed bool, err error) {
	if exposed != nil && size == 0 {
		if def, err = exposed.Defense(); err != nil {
			return nil, false, fmt.Errorf("--exposed: %w", err)
		}
		return def, true, nil
	}
	if size == 0 {
		size = DefaultDefenseSize
	}
	train, err := f.Manifest.Dataset.Train.Select(fullTrain)
	if err != nil {
		return nil, false, fmt.Errorf("the training split of %s: %w", f.Dir, err)
	}
	if def, err = data.NewDefense(train, size, seed); err != nil {
		return nil, false, fmt.Errorf("--defense-size %d: %w", size, err)
	}
	return def, false, nil
}
