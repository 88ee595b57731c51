package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"ebyd/attack"
	"ebyd/data"
	"ebyd/fit"
	"ebyd/models"
	"ebyd/optim"
)

// TrainConfig is everything that decides a training run's result.
type TrainConfig struct {
	Dataset string `json:"dataset"`
	DataDir string `json:"data_dir,omitempty"` // "" for the dataset's default location
	Model   string `json:"model"`
	Width   int    `json:"width"` // 0: the architecture's default

	Epochs      int     `json:"epochs"`
	BatchSize   int     `json:"batch_size"`
	Optimizer   string  `json:"optimizer"` // sgd or adam
	LR          float64 `json:"lr"`        // 0: the optimizer's default
	Momentum    float64 `json:"momentum"`  // sgd only
	WeightDecay float64 `json:"weight_decay"`
	// Schedule is constant, or cosine: annealed step by step from LR to 0
	// over the whole run.
	Schedule string `json:"schedule"`
	Seed     uint64 `json:"seed"`

	// TrainSubset and TestSubset, when positive, train and evaluate on a
	// seeded random subset of that many images (quick runs, tests).
	TrainSubset int `json:"train_subset,omitempty"`
	TestSubset  int `json:"test_subset,omitempty"`
	EvalBatch   int `json:"eval_batch"`

	// Augment is the training augmentation, applied to the (poisoned)
	// images batch by batch: nil means the dataset's usual one
	// (data.DefaultAugment), filled in by the run.
	Augment *data.Augment `json:"augment,omitempty"`

	// Attack, when set, plants a backdoor: the training set is poisoned
	// (or, for a learned trigger, poisoned batch by batch) and the run
	// measures attack success rate besides clean accuracy.
	Attack *AttackConfig `json:"attack,omitempty"`
}

// DefaultTrainConfig trains the MNIST network to about 98.7% test accuracy
// in one epoch: Adam, lr 1e-3 annealed to 0 (cosine), batch 16. Measured
// with seeds 1, 2, 3: 98.67%, 98.59%, 98.73%; batch 64 gives about 98.5%,
// as PyTorch does with the same recipe (98.48%).
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{
		Dataset: "mnist", Model: "mnistnet",
		Epochs: 1, BatchSize: 16, Optimizer: "adam", Momentum: 0.9, Schedule: "cosine",
		Seed: 1, EvalBatch: DefaultEvalBatch,
	}
}

// DefaultLR is the learning rate used when none is given.
func DefaultLR(optimizer string) float64 {
	if optimizer == "sgd" {
		return 0.05
	}
	return 1e-3
}

// Optimizers and Schedules list the names TrainConfig accepts.
var (
	Optimizers = optim.Names
	Schedules  = []string{"constant", "cosine"}
)

// optimizer is the config's optimizer and its settings.
func (c *TrainConfig) optimizer() optim.Config {
	return optim.Config{Name: c.Optimizer, LR: c.LR, Momentum: c.Momentum, WeightDecay: c.WeightDecay}
}

// resolve checks the config and fills in the defaults that depend on other
// fields, so that the manifest records what was actually run.
func (c *TrainConfig) resolve() error {
	spec, err := models.Lookup(c.Model)
	if err != nil {
		return err
	}
	c.Model = spec.Name
	if !slices.Contains(data.Names(), c.Dataset) {
		return fmt.Errorf("unknown dataset %q (known: %s)", c.Dataset, strings.Join(data.Names(), ", "))
	}
	if c.Width == 0 {
		c.Width = spec.DefaultWidth
	}
	c.Optimizer = strings.ToLower(c.Optimizer)
	if !slices.Contains(Optimizers, c.Optimizer) {
		return fmt.Errorf("unknown optimizer %q (known: %s)", c.Optimizer, strings.Join(Optimizers, ", "))
	}
	c.Schedule = strings.ToLower(c.Schedule)
	if !slices.Contains(Schedules, c.Schedule) {
		return fmt.Errorf("unknown schedule %q (known: %s)", c.Schedule, strings.Join(Schedules, ", "))
	}
	if c.LR == 0 {
		c.LR = DefaultLR(c.Optimizer)
	}
	if c.EvalBatch == 0 {
		c.EvalBatch = DefaultEvalBatch
	}
	switch {
	case c.Width < 1:
		return fmt.Errorf("--width %d: must be positive", c.Width)
	case c.Epochs < 1:
		return fmt.Errorf("--epochs %d: must be at least 1", c.Epochs)
	case c.Epochs > MaxTrainSteps:
		return fmt.Errorf("--epochs %d: a run is limited to %d training steps (epochs × steps per epoch)", c.Epochs, MaxTrainSteps)
	case c.BatchSize < 1:
		return fmt.Errorf("--batch-size %d: must be at least 1", c.BatchSize)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("--lr %g: must be a positive number", c.LR)
	case c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("--momentum %g: must be in [0, 1)", c.Momentum)
	case c.WeightDecay < 0:
		return fmt.Errorf("--weight-decay %g: must not be negative", c.WeightDecay)
	case c.TrainSubset < 0 || c.TestSubset < 0:
		return errors.New("--train-subset and --test-subset must not be negative")
	case c.EvalBatch < 1:
		return fmt.Errorf("eval batch %d: must be at least 1", c.EvalBatch)
	}
	if c.Augment == nil {
		a := data.DefaultAugment(c.Dataset)
		c.Augment = &a
	}
	if c.Augment.CropPad < 0 {
		return fmt.Errorf("--augment: crop padding %d must not be negative", c.Augment.CropPad)
	}
	if c.Attack != nil {
		return c.Attack.check()
	}
	return nil
}

// Train trains a clean model as cfg says, measures its clean test accuracy
// and writes the run folder opts.Out. Nothing is written unless every step
// succeeds; cancelling ctx stops training between two steps.
func Train(ctx context.Context, cfg TrainConfig, opts Options) (*Result, error) {
	start := time.Now()
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	if err := CheckOut(opts.Out, opts.Force); err != nil {
		return nil, err
	}
	man, err := newManifest("train", opts.Command, cfg.Seed, cfg)
	if err != nil {
		return nil, err
	}

	t := time.Now()
	fullTrain, fullTest, err := loadData(cfg.Dataset, cfg.DataDir, nil, nil)
	if err != nil {
		return nil, err
	}
	// The training set is prepared here; poisoning attacks will transform it
	// at this point, before any model sees it.
	train, trainSplit, err := subset(fullTrain, cfg.TrainSubset, cfg.Seed, "train")
	if err != nil {
		return nil, err
	}
	test, testSplit, err := subset(fullTest, cfg.TestSubset, cfg.Seed, "test")
	if err != nil {
		return nil, err
	}
	man.Dataset = datasetInfo(train, cfg.DataDir, trainSplit, testSplit)
	man.Seconds["load_data"] = since(t)
	if train.H != train.W {
		return nil, fmt.Errorf("%s images are %d×%d; the models need square images", cfg.Dataset, train.H, train.W)
	}

	mi := ModelInfo{Arch: cfg.Model, InChannels: train.C, Classes: train.Classes, InputSize: train.H, Width: cfg.Width, InitSeed: cfg.Seed}
	model, err := mi.Build()
	if err != nil {
		return nil, err
	}
	mi.Params = countParams(model)
	man.Model = mi

	var trig attack.Trigger
	var poisoning attack.Poisoning
	if cfg.Attack != nil {
		// Everything about the attack is checked before any training.
		if poisoning, err = cfg.Attack.resolve(train, cfg.Seed); err != nil {
			return nil, err
		}
		if trig, err = cfg.Attack.trigger(train.H, train.W, train.C); err != nil {
			return nil, err
		}
	}

	// Checkpoints at every epoch's end, beside the run folder.
	ck := &checkpointer{dir: CheckpointDir(opts.Out), resume: opts.Resume, stopAfter: opts.stopAfter, stopLabel: opts.stopLabel}
	if _, ok := trig.(attack.Learner); ok && opts.Resume {
		return nil, fmt.Errorf("--resume: the %s attack learns its trigger together with the model, and such training cannot be resumed yet", cfg.Attack.Name)
	}
	if err := ck.check(); err != nil {
		return nil, err
	}
	switch {
	case opts.Resume && !ck.exists():
		return nil, fmt.Errorf("--resume: there is no checkpoint of an interrupted run at %s (a training run writes one there at the end of each epoch)", ck.dir)
	case !opts.Resume && ck.exists() && opts.Progress != nil:
		fmt.Fprintf(opts.Progress, "note: a checkpoint of an interrupted run exists at %s; this run starts afresh and replaces it at the end of its first epoch (--resume continues it instead)\n", ck.dir)
	}
	if _, ok := trig.(attack.Learner); !ok {
		opts.ckpt = ck
	}

	t = time.Now()
	files := map[string][]byte{}
	if trig == nil {
		stats, err := trainModel(ctx, model, train, cfg, opts, "train")
		if err != nil {
			return nil, err
		}
		man.Seconds["median_step"] = stats.medianStep
		man.ResumedAfter = stats.resumed
		man.Metrics["train_loss"] = stats.loss
		man.Metrics["train_acc"] = stats.acc
	} else if files, err = plant(ctx, cfg.Attack, trig, poisoning, model, train, cfg, opts, man); err != nil {
		return nil, err
	}
	man.Seconds["train"] = since(t)
	// The attack's parameters are now complete (defaults filled in).
	if man.Config, err = json.Marshal(cfg); err != nil {
		return nil, err
	}

	t = time.Now()
	acc, err := fit.Accuracy(model, test, cfg.EvalBatch)
	if err != nil {
		return nil, err
	}
	man.Metrics["clean_acc"] = acc
	if trig != nil {
		bd, err := attack.TestSet(test, trig, poisoning)
		if err != nil {
			return nil, err
		}
		if man.Metrics["asr"], err = fit.Accuracy(model, bd, cfg.EvalBatch); err != nil {
			return nil, err
		}
	}
	man.Seconds["eval"] = since(t)
	man.Seconds["total"] = since(start)

	if err := Save(opts.Out, opts.Force, Contents{Manifest: man, Model: model, Files: files}); err != nil {
		return nil, err
	}
	if err := ck.clear(); err != nil {
		return nil, fmt.Errorf("run folder %s is saved, but its checkpoints could not be removed: %w", opts.Out, err)
	}
	return &Result{Dir: opts.Out, Manifest: man}, nil
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }
