package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"ebyd/fit"
	"ebyd/optim"
	"ebyd/tensor"
)

// resumeCase trains cfg uninterrupted and, in another folder, stopped after
// epoch stop (as a kill just after that epoch's checkpoint would) and then
// resumed; the two model files must be the same bytes, the metrics the
// same bits, and no checkpoint may be left.
func resumeCase(t *testing.T, cfg TrainConfig, stop int) { resumeLabel(t, cfg, stop, "") }

// resumeLabel stops the training of the model label ("": the first).
func resumeLabel(t *testing.T, cfg TrainConfig, stop int, label string) {
	t.Helper()
	tmp := t.TempDir()
	whole, cut := filepath.Join(tmp, "whole"), filepath.Join(tmp, "cut")
	if _, err := Train(context.Background(), cfg, Options{Out: whole}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(CheckpointDir(whole)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the checkpoint of a finished run is left: %v", err)
	}
	_, err := Train(context.Background(), cfg, Options{Out: cut, stopAfter: stop, stopLabel: label})
	if !errors.Is(err, errTestStop) {
		t.Fatalf("stopped run: err = %v", err)
	}
	if _, err := os.Stat(cut); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a stopped run wrote its folder: %v", err)
	}
	var progress bytes.Buffer
	if _, err := Train(context.Background(), cfg, Options{Out: cut, Resume: true, Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "resuming after epoch") {
		t.Errorf("the resumed run does not say so:\n%s", progress.String())
	}
	if _, err := os.Stat(CheckpointDir(cut)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the checkpoint of a resumed, finished run is left: %v", err)
	}
	a, err := os.ReadFile(filepath.Join(whole, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(cut, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("stopped after epoch %d and resumed, the weights differ from an uninterrupted run's", stop)
	}
	fa, _ := Open(whole)
	fb, _ := Open(cut)
	want := stop // run.json tells of the model's training, not the surrogate's
	if label == "surrogate" {
		want = 0
	}
	if fa.Manifest.ResumedAfter != 0 || fb.Manifest.ResumedAfter != want {
		t.Errorf("resumed_after_epochs: %d uninterrupted, %d resumed (want 0, %d)", fa.Manifest.ResumedAfter, fb.Manifest.ResumedAfter, want)
	}
	for _, k := range []string{"clean_acc", "train_loss", "train_acc", "asr"} {
		if math.Float64bits(fa.Manifest.Metrics[k]) != math.Float64bits(fb.Manifest.Metrics[k]) {
			t.Errorf("%s: %v uninterrupted, %v resumed", k, fa.Manifest.Metrics[k], fb.Manifest.Metrics[k])
		}
	}
}

func smallTrain(opt string) TrainConfig {
	cfg := DefaultTrainConfig()
	cfg.Width, cfg.TrainSubset, cfg.TestSubset, cfg.BatchSize, cfg.Epochs = 4, 600, 200, 32, 3
	cfg.Optimizer = opt
	return cfg
}

func TestResumeAdamCosine(t *testing.T) { resumeCase(t, smallTrain("adam"), 1) }

func TestResumeSGDMomentum(t *testing.T) {
	cfg := smallTrain("sgd")
	cfg.Momentum, cfg.WeightDecay, cfg.Schedule = 0.9, 5e-4, "constant"
	resumeCase(t, cfg, 2)
}

// A kill after the last epoch's checkpoint (during the evaluation) leaves
// nothing to train: the run reports the last epoch's statistics it saved.
func TestResumeAfterLastEpoch(t *testing.T) { resumeCase(t, smallTrain("sgd"), 3) }

func TestResumePoisoned(t *testing.T) {
	cfg := smallTrain("adam")
	cfg.Attack = &AttackConfig{Name: "badnets", Target: 1}
	resumeCase(t, cfg, 1)
}

// The label-consistent attack trains a clean surrogate model first: a run
// stopped in the surrogate's training, or in the model's after the
// surrogate's last checkpoint, continues where it stopped.
func TestResumeSurrogate(t *testing.T) {
	cfg := smallTrain("adam")
	cfg.Epochs = 2
	cfg.Attack = &AttackConfig{Name: "cl", Target: 1}
	t.Run("surrogate", func(t *testing.T) { resumeLabel(t, cfg, 1, "surrogate") })
	t.Run("train", func(t *testing.T) { resumeLabel(t, cfg, 1, "train") })
}

// BatchNorm's running statistics and counters are in the checkpoint.
func TestResumeBatchNorm(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a ResNet")
	}
	cfg := smallTrain("sgd")
	cfg.Model, cfg.Width, cfg.TrainSubset, cfg.TestSubset, cfg.Epochs = "preactresnet18", 2, 96, 64, 2
	resumeCase(t, cfg, 1)
}

func TestResumeRefused(t *testing.T) {
	cfg := smallTrain("adam")
	cfg.Epochs = 2
	dir := filepath.Join(t.TempDir(), "run")
	_, err := Train(context.Background(), cfg, Options{Out: dir, Resume: true})
	if err == nil || !strings.Contains(err.Error(), "no checkpoint") || !strings.Contains(err.Error(), CheckpointDir(dir)) {
		t.Fatalf("--resume without a checkpoint: err = %v", err)
	}
	if _, err := Train(context.Background(), cfg, Options{Out: dir, stopAfter: 1}); !errors.Is(err, errTestStop) {
		t.Fatal(err)
	}
	other := cfg
	other.LR = 0.01
	_, err = Train(context.Background(), other, Options{Out: dir, Resume: true})
	if err == nil || !strings.Contains(err.Error(), "lr is 0.001 there, 0.01 here") {
		t.Fatalf("--resume with another --lr: err = %v", err)
	}
	other = cfg
	other.Augment = nil
	other.Attack = &AttackConfig{Name: "badnets", Target: 1}
	_, err = Train(context.Background(), other, Options{Out: dir, Resume: true})
	if err == nil || !strings.Contains(err.Error(), "attack is null there") {
		t.Fatalf("--resume with an attack added: err = %v", err)
	}
	other = cfg
	other.Augment = nil
	other.Attack = &AttackConfig{Name: "iad", Target: 1}
	_, err = Train(context.Background(), other, Options{Out: dir, Resume: true})
	if err == nil || !strings.Contains(err.Error(), "iad attack learns its trigger") {
		t.Fatalf("--resume with iad: err = %v", err)
	}
	// Without --resume the run notes the checkpoint and starts afresh.
	var progress bytes.Buffer
	if _, err := Train(context.Background(), cfg, Options{Out: dir, Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "--resume continues it") {
		t.Errorf("no note of the checkpoint:\n%s", progress.String())
	}
	if _, err := os.Stat(CheckpointDir(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("checkpoint left: %v", err)
	}
}

// BenchmarkCheckpoint is the cost a checkpoint adds to every epoch: the
// default MNIST network (width 32, 1.2M parameters) with Adam's moments.
func BenchmarkCheckpoint(b *testing.B) {
	mi := ModelInfo{Arch: "mnistnet", InChannels: 1, Classes: 10, InputSize: 28, Width: 32, InitSeed: 1}
	model, err := mi.Build()
	if err != nil {
		b.Fatal(err)
	}
	params := fit.Params(model)
	opt, _ := optim.New(params, optim.Config{Name: "adam", LR: 1e-3})
	for _, p := range params {
		p.Grad = tensor.New(p.Value.Shape...)
	}
	opt.Step()
	ck := &checkpointer{dir: filepath.Join(b.TempDir(), "run.ckpt")}
	for b.Loop() {
		if err := ck.save("train", []byte(`{}`), model, opt, 1, fitStats{}); err != nil {
			b.Fatal(err)
		}
	}
}

// Resuming under another GOMAXPROCS works but says the weights will differ.
func TestResumeOtherEngine(t *testing.T) {
	cfg := smallTrain("adam")
	cfg.Epochs, cfg.TrainSubset = 2, 200
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Train(context.Background(), cfg, Options{Out: dir, stopAfter: 1}); !errors.Is(err, errTestStop) {
		t.Fatal(err)
	}
	n := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(n + 1)
	defer runtime.GOMAXPROCS(n)
	var progress bytes.Buffer
	if _, err := Train(context.Background(), cfg, Options{Out: dir, Resume: true, Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("GOMAXPROCS %d", n+1); !strings.Contains(progress.String(), "not be bit-identical") || !strings.Contains(progress.String(), want) {
		t.Errorf("no note of the other engine:\n%s", progress.String())
	}
}

// A directory of the checkpoint folder's name keeps what is not a
// checkpoint; a file of that name fails the run before it trains.
func TestCheckpointFolderKeepsOtherFiles(t *testing.T) {
	cfg := smallTrain("adam")
	cfg.Epochs, cfg.TrainSubset = 1, 100
	dir := filepath.Join(t.TempDir(), "run")
	mine := filepath.Join(CheckpointDir(dir), "notes.txt")
	if err := os.Mkdir(CheckpointDir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Train(context.Background(), cfg, Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Fatalf("the run removed a file it did not write: %v", err)
	}
	if _, err := os.Stat(filepath.Join(CheckpointDir(dir), "train.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("checkpoint left: %v", err)
	}
	other := filepath.Join(t.TempDir(), "other")
	if err := os.WriteFile(CheckpointDir(other), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Train(context.Background(), cfg, Options{Out: other}); err == nil || !strings.Contains(err.Error(), "a file of that name exists") {
		t.Fatalf("err = %v", err)
	}
}
