package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"ebyd/attack"
	"ebyd/data"
	"ebyd/expose"
	"ebyd/fit"
	"ebyd/internal/userfile"
	"ebyd/nn"
	"ebyd/remove"
)

// RemoveConfig asks for the backdoor of a suspect run's model to be removed
// (package remove) with a clean defense set, and, for ebyd-rnp, the model
// an exposure derived from it.
type RemoveConfig struct {
	Run string `json:"run"`
	// Exposed is an expose run folder whose parent is Run; ebyd-rnp needs
	// it, the other methods ignore its model.
	Exposed string `json:"exposed,omitempty"`
	// Trigger is a detect folder of Run (ebyd detect --method nc --out)
	// whose trigger, recovered for its predicted target, the pruning
	// methods' fine-tuning unlearns (remove.Pruning.TriggerShare).
	Trigger string `json:"trigger,omitempty"`
	Method  string `json:"method"` // "" means remove.Default
	// Params are the method's parameters as JSON (remove.New); after the
	// stage they hold every parameter with its default filled in.
	Params json.RawMessage `json:"params,omitempty"`
	// DefenseSize is the number of clean training images the defender gets,
	// drawn from Seed as ebyd expose draws them; 0 means the exposed run's
	// own defense set when Exposed is given, else DefaultDefenseSize.
	DefenseSize int    `json:"defense_size"`
	Seed        uint64 `json:"seed"`
	// TestSubset, when positive, measures CA and ASR on a seeded random
	// subset of that many test images (0: the run's own test images).
	TestSubset int `json:"test_subset,omitempty"`
	EvalBatch  int `json:"eval_batch"`
}

// RemovalFile is the removal's report in a remove run folder.
const RemovalFile = "removal.json"

// RemoveResult is what a removal did, measured by the evaluator.
type RemoveResult struct {
	Dir     string `json:"run"`
	Parent  string `json:"parent"`
	Exposed string `json:"exposed,omitempty"`
	Method  string `json:"method"`
	// CleanAcc and ASR are the cleaned model's clean accuracy and attack
	// success rate (the suspect run's own trigger; nil for a run without
	// one), InitialCleanAcc and InitialASR the suspect's.
	InitialCleanAcc float64  `json:"initial_clean_acc"`
	CleanAcc        float64  `json:"clean_acc"`
	InitialASR      *float64 `json:"initial_asr,omitempty"`
	ASR             *float64 `json:"asr,omitempty"`
	// Pruned and Gated count the pruned channels out of the gated ones
	// (pruning methods).
	Pruned            int         `json:"pruned"`
	Gated             int         `json:"gated_channels,omitempty"`
	Cut               *remove.Cut `json:"cut,omitempty"`
	InitialDefenseAcc float64     `json:"initial_defense_acc"`
	DefenseAcc        float64     `json:"defense_acc"`
	DefenseSize       int         `json:"defense_size"`
	// DefenseFrom is "exposed" when the defense set is the exposed run's,
	// "drawn" when drawn here.
	DefenseFrom string         `json:"defense_from"`
	Seconds     float64        `json:"seconds"`
	Report      *remove.Report `json:"-"`
	Manifest    *Manifest      `json:"-"`
}

// Remove removes the backdoor of the model of the run folder cfg.Run and
// writes the cleaned model, the method's report (RemovalFile) and the
// defense set into the run folder opts.Out, whose manifest names the
// suspect run as its parent. The evaluator's clean accuracy and ASR of the
// suspect's own trigger, before and after, are measured here, outside the
// method. Nothing is written unless everything succeeds.
func Remove(ctx context.Context, cfg RemoveConfig, opts Options) (*RemoveResult, error) {
	start := time.Now()
	if cfg.Run == "" {
		return nil, errors.New("no suspect run given (--run)")
	}
	if cfg.Method == "" {
		cfg.Method = remove.Default
	}
	cfg.Method = strings.ToLower(cfg.Method)
	if cfg.EvalBatch == 0 {
		cfg.EvalBatch = DefaultEvalBatch
	}
	switch {
	case cfg.DefenseSize < 0:
		return nil, fmt.Errorf("--defense-size %d: must not be negative", cfg.DefenseSize)
	case cfg.TestSubset < 0:
		return nil, fmt.Errorf("--test-subset %d: must not be negative", cfg.TestSubset)
	case cfg.EvalBatch < 1:
		return nil, fmt.Errorf("eval batch %d: must be at least 1", cfg.EvalBatch)
	}
	method, err := remove.New(cfg.Method, cfg.Params)
	if err != nil {
		return nil, err
	}
	if remove.NeedsExposed(cfg.Method) && cfg.Exposed == "" {
		return nil, fmt.Errorf("%s prunes by masks learned on the exposed model: give --exposed DIR (an ebyd expose run of %s)", cfg.Method, cfg.Run)
	}
	if err := CheckOut(opts.Out, opts.Force); err != nil {
		return nil, err
	}
	f, err := Open(cfg.Run)
	if err != nil {
		return nil, err
	}
	var exposed *Folder
	if cfg.Exposed != "" {
		if exposed, err = openExposed(cfg.Exposed, f); err != nil {
			return nil, err
		}
	}
	for _, src := range []*Folder{f, exposed} {
		if src != nil && sameDir(src.Dir, opts.Out) {
			return nil, fmt.Errorf("--out %s is an input run folder; write the cleaned model elsewhere", opts.Out)
		}
	}
	model, err := f.Model()
	if err != nil {
		return nil, err
	}
	env := remove.Env{Seed: cfg.Seed}
	if cfg.Trigger != "" {
		if env.Trigger, err = recoveredTrigger(cfg.Trigger, f); err != nil {
			return nil, fmt.Errorf("--trigger: %w", err)
		}
	}
	if exposed != nil {
		if env.Exposed, err = exposed.Model(); err != nil {
			return nil, fmt.Errorf("--exposed: %w", err)
		}
	}

	t := time.Now()
	man, err := newManifest("remove", opts.Command, cfg.Seed, cfg)
	if err != nil {
		return nil, err
	}
	if err := man.setParent(f); err != nil {
		return nil, err
	}
	man.Dataset, man.Model = f.Manifest.Dataset, f.Manifest.Model
	res := &RemoveResult{Parent: f.Dir, Exposed: cfg.Exposed, Method: cfg.Method, Manifest: man}
	fullTrain, fullTest, err := f.Data()
	if err != nil {
		return nil, err
	}
	def, fromExposed, err := defenseSet(f, fullTrain, exposed, cfg.DefenseSize, cfg.Seed)
	if err != nil {
		return nil, err
	}
	res.DefenseFrom = "drawn"
	if fromExposed {
		res.DefenseFrom = "exposed"
	}
	if !fromExposed && cfg.DefenseSize == 0 {
		cfg.DefenseSize = DefaultDefenseSize // recorded in the manifest
	}
	measure, err := ownAttack(f, fullTest, cfg.TestSubset, cfg.Seed, cfg.EvalBatch)
	if err != nil {
		return nil, err
	}
	man.Seconds["load_data"] = since(t)
	if res.InitialCleanAcc, res.InitialASR, err = measure(model); err != nil {
		return nil, err
	}

	t = time.Now()
	var prog *Progress
	env.Progress = func(done, total int, status string) {
		if prog == nil {
			prog = opts.progress("remove "+cfg.Method, total)
		}
		prog.total = max(prog.total, total)
		prog.Update(done, status)
	}
	var rep *remove.Report
	if u, ok := method.(remove.Unlearner); ok {
		rep, model, err = unlearnAndRemove(ctx, u, f, model, def, env)
	} else {
		rep, err = method.Remove(ctx, model, def, env)
	}
	if err != nil {
		return nil, err
	}
	prog.Done(fmt.Sprintf("defense acc %.2f%% → %.2f%%, %d channels pruned", 100*rep.InitialDefenseAcc, 100*rep.DefenseAcc, len(rep.Pruned)))
	man.Seconds["remove"] = since(t)
	cfg.Params = remove.Params(method)
	if man.Config, err = json.Marshal(cfg); err != nil {
		return nil, err
	}

	t = time.Now()
	if res.CleanAcc, res.ASR, err = measure(model); err != nil {
		return nil, err
	}
	man.Seconds["evaluate"] = since(t)
	res.Pruned, res.Gated, res.Cut = len(rep.Pruned), rep.Gated, rep.Cut
	res.InitialDefenseAcc, res.DefenseAcc, res.DefenseSize = rep.InitialDefenseAcc, rep.DefenseAcc, def.Len()
	res.Report = rep
	man.Metrics["clean_acc"] = res.CleanAcc
	man.Metrics["initial_clean_acc"] = res.InitialCleanAcc
	if res.ASR != nil {
		man.Metrics["asr"] = *res.ASR
		man.Metrics["initial_asr"] = *res.InitialASR
	}
	man.Metrics["pruned"] = float64(res.Pruned)
	man.Metrics["defense_acc"] = res.DefenseAcc

	files := map[string][]byte{}
	if files[RemovalFile], err = json.MarshalIndent(rep, "", "  "); err != nil {
		return nil, err
	}
	if files[DefenseFile], err = json.Marshal(defenseFile{Seed: def.Seed(), Indices: def.Indices()}); err != nil {
		return nil, err
	}
	if err := checkFinite(StateDict(model)); err != nil {
		return nil, fmt.Errorf("the cleaned model: %w", err)
	}
	man.Seconds["total"] = since(start)
	res.Seconds = man.Seconds["total"]
	if err := Save(opts.Out, opts.Force, Contents{Manifest: man, Model: model, Files: files}); err != nil {
		return nil, err
	}
	res.Dir = opts.Out
	return res, nil
}

// ownAttack returns the evaluator's measurement of a model of run f: clean
// accuracy on the run's test images (or a seeded subset of testSubset of
// them) and, when the run has a backdoor of its own, its attack success
// rate on the same images triggered.
func ownAttack(f *Folder, fullTest *data.Dataset, testSubset int, seed uint64, batch int) (func(nn.Module) (float64, *float64, error), error) {
	bd, trig, err := f.Attack()
	if err != nil {
		return nil, err
	}
	test, err := f.Manifest.Dataset.Test.Select(fullTest)
	if err != nil {
		return nil, fmt.Errorf("the test split of %s: %w", f.Dir, err)
	}
	if testSubset > 0 {
		if test, _, err = subset(fullTest, testSubset, seed, "test"); err != nil {
			return nil, err
		}
	}
	var triggered *data.Dataset
	if trig != nil {
		mode := bd.Mode
		if mode == "" {
			mode = attack.All2One
		}
		if triggered, err = attack.TestSet(test, trig, attack.Poisoning{Mode: mode, Target: bd.Target, Rate: 1}); err != nil {
			return nil, err
		}
	}
	return func(m nn.Module) (float64, *float64, error) {
		ca, err := fit.Accuracy(m, test, batch)
		if err != nil || triggered == nil {
			return ca, nil, err
		}
		asr, err := fit.Accuracy(m, triggered, batch)
		return ca, &asr, err
	}, nil
}

// recoveredTrigger reads the trigger a detect folder of the suspect run
// recovered for the label it predicted (Neural Cleanse's mask and pattern
// images).
func recoveredTrigger(dir string, suspect *Folder) (*remove.Trigger, error) {
	f, err := Open(dir)
	if err != nil {
		return nil, err
	}
	if f.Manifest.Stage != "detect" || !derivedFrom(f, suspect) {
		return nil, fmt.Errorf("%s is not a detect folder of %s (stage %s, parent %q)", dir, suspect.Dir, f.Manifest.Stage, f.Manifest.Parent)
	}
	b, err := userfile.ReadFile(filepath.Join(dir, DetectFile))
	if err != nil {
		return nil, err
	}
	var res DetectResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, DetectFile), err)
	}
	if res.NC == nil || res.PredictedTarget == nil {
		return nil, fmt.Errorf("%s holds no trigger recovered by nc", dir)
	}
	l := *res.PredictedTarget
	mask, err := attack.ReadImage(filepath.Join(dir, fmt.Sprintf("mask_%d.png", l)))
	if err != nil {
		return nil, err
	}
	pat, err := attack.ReadImage(filepath.Join(dir, fmt.Sprintf("pattern_%d.png", l)))
	if err != nil {
		return nil, err
	}
	if mask.C != 1 || mask.H != pat.H || mask.W != pat.W {
		return nil, fmt.Errorf("%s: mask %d×%d×%d and pattern %d×%d×%d do not fit", dir, mask.H, mask.W, mask.C, pat.H, pat.W, pat.C)
	}
	t := &remove.Trigger{H: pat.H, W: pat.W, C: pat.C, Mask: make([]float32, len(mask.Pix)), Pattern: make([]float32, len(pat.Pix))}
	for i, v := range mask.Pix {
		t.Mask[i] = float32(v) / 255
	}
	for i, v := range pat.Pix {
		t.Pattern[i] = float32(v) / 255
	}
	return t, nil
}

// unlearnAndRemove runs an Unlearner: the exposure it names on a fresh
// copy of run f's model, then the removal from that unlearned model into
// model. A run that diverges (the exposure fails, or the removal reports
// remove.ErrDiverged on the unlearned model) starts again from the suspect
// with the learning rate halved, up to the retries the method allows.
func unlearnAndRemove(ctx context.Context, u remove.Unlearner, f *Folder, model nn.Module, def *data.Defense, env remove.Env) (*remove.Report, nn.Module, error) {
	name, params, retries := u.Unlearning()
	ex, err := expose.New(name, params)
	if err != nil {
		return nil, nil, fmt.Errorf("unlearning: %w", err)
	}
	stepped, _ := ex.(expose.Stepped)
	var notes []string
	for try := 0; ; try++ {
		rep, err := unlearnOnce(ctx, u, name, ex, f, model, def, env)
		if err == nil {
			rep.Notes = append(notes, rep.Notes...)
			return rep, model, nil
		}
		if ctx.Err() != nil || try >= retries || stepped == nil || errors.Is(err, errNotDiverged) {
			return nil, nil, err
		}
		lr := stepped.Rate()
		notes = append(notes, fmt.Sprintf("%s at lr %g diverged (%v); restarting at lr %g", name, lr, err, lr/2))
		stepped.SetRate(lr / 2)
		// The failed removal edited the suspect model: start from its file.
		if model, err = f.Model(); err != nil {
			return nil, nil, err
		}
	}
}

// errNotDiverged wraps a failure that a smaller step would not mend.
var errNotDiverged = errors.New("not a divergence")

func unlearnOnce(ctx context.Context, u remove.Unlearner, name string, ex expose.Exposer, f *Folder, model nn.Module, def *data.Defense, env remove.Env) (*remove.Report, error) {
	m, err := f.Model()
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", err, errNotDiverged)
	}
	tr, err := ex.Expose(ctx, m, def, expose.Env{Seed: env.Seed, Progress: func(done, total int, status string) {
		if env.Progress != nil {
			env.Progress(done, total, "unlearn: "+status)
		}
	}})
	if err != nil {
		return nil, fmt.Errorf("unlearning (%s): %w", name, err)
	}
	env.Exposed = m
	rep, err := u.Remove(ctx, model, def, env)
	if err != nil {
		if !errors.Is(err, remove.ErrDiverged) {
			err = fmt.Errorf("%w (%w)", err, errNotDiverged)
		}
		return nil, err
	}
	var rows []remove.Row
	for _, r := range tr.Rows[1:] {
		rows = append(rows, remove.Row{Stage: "unlearn", Epoch: r.Epoch, DefenseAcc: r.DefenseAcc, Loss: r.Loss})
	}
	rep.Rows = append(rows, rep.Rows...)
	at := ""
	if s, ok := ex.(expose.Stepped); ok {
		at = fmt.Sprintf(" at lr %v", s.Rate())
	}
	rep.Notes = append([]string{fmt.Sprintf("%s%s stopped after %d epochs (%s) at defense accuracy %.4f",
		name, at, len(tr.Rows)-1, tr.Stop, tr.Final().DefenseAcc)}, rep.Notes...)
	return rep, nil
}
