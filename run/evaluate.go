package run

import (
	"context"
	"fmt"
	"time"

	"ebyd/attack"
	"ebyd/fit"
)

// EvalConfig asks for a run's model to be measured again: clean accuracy, and
// attack success rate for the run's own backdoor or for another trigger.
type EvalConfig struct {
	Run string `json:"run"`
	// Attack is the trigger to measure ASR with; nil means the run's own.
	// Its Rate is ignored.
	Attack *AttackConfig `json:"attack,omitempty"`
	// TestSubset, when positive, evaluates a seeded subset of that many test
	// images; 0 uses the images the run itself was evaluated on.
	TestSubset int    `json:"test_subset,omitempty"`
	Seed       uint64 `json:"seed"`
	EvalBatch  int    `json:"eval_batch"`
}

// EvalResult is what Eval measured.
type EvalResult struct {
	Run      string      `json:"run"`
	Arch     string      `json:"model"`
	Dataset  string      `json:"dataset"`
	Attack   string      `json:"attack,omitempty"` // "" when there is no trigger to measure
	Mode     attack.Mode `json:"mode,omitempty"`
	Target   int         `json:"target"`
	CleanAcc float64     `json:"clean_acc"`
	ASR      *float64    `json:"asr,omitempty"`
	Clean    int         `json:"test_images"`
	Backdoor int         `json:"backdoor_images"` // triggered test images ASR is measured on
	Seconds  float64     `json:"seconds"`
}

// Eval measures a run's model on its test data. It writes nothing.
func Eval(ctx context.Context, cfg EvalConfig) (*EvalResult, error) {
	start := time.Now()
	if cfg.EvalBatch == 0 {
		cfg.EvalBatch = DefaultEvalBatch
	}
	f, err := Open(cfg.Run)
	if err != nil {
		return nil, err
	}
	own, trig, err := f.Attack()
	if err != nil {
		return nil, err
	}
	d := f.Manifest.Dataset
	a := cfg.Attack
	if a != nil {
		if err := a.check(); err != nil {
			return nil, err
		}
		if trig, err = a.trigger(d.Height, d.Width, d.Channels); err != nil {
			return nil, err
		}
		if _, learned := trig.(attack.Learner); learned {
			return nil, fmt.Errorf("the %s trigger is learned while training; evaluate a run trained with --attack %s instead", a.Name, a.Name)
		}
	} else {
		a = own
	}
	model, err := f.Model()
	if err != nil {
		return nil, err
	}
	_, fullTest, err := f.Data()
	if err != nil {
		return nil, err
	}
	test, err := d.Test.Select(fullTest)
	if err != nil {
		return nil, err
	}
	if cfg.TestSubset > 0 {
		if test, _, err = subset(fullTest, cfg.TestSubset, cfg.Seed, "test"); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &EvalResult{Run: f.Dir, Arch: f.Manifest.Model.Arch, Dataset: d.Name, Clean: test.N}
	if res.CleanAcc, err = fit.Accuracy(model, test, cfg.EvalBatch); err != nil {
		return nil, err
	}
	if a != nil {
		mode := a.Mode
		if mode == "" {
			mode = attack.All2One
		}
		p := attack.Poisoning{Mode: mode, Target: a.Target, Rate: 1}
		bd, err := attack.TestSet(test, trig, p)
		if err != nil {
			return nil, err
		}
		asr, err := fit.Accuracy(model, bd, cfg.EvalBatch)
		if err != nil {
			return nil, err
		}
		res.Attack, res.Mode, res.Target, res.ASR, res.Backdoor = a.Name, p.Mode, p.Target, &asr, bd.N
	}
	res.Seconds = since(start)
	return res, nil
}
