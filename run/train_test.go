package run

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"ebyd/internal/memlimit"
)

// The same seed and GOMAXPROCS give bitwise-identical weights and metrics.
func TestTrainDeterministic(t *testing.T) {
	cfg := DefaultTrainConfig()
	cfg.Width, cfg.TrainSubset, cfg.TestSubset = 8, 512, 1000
	tmp := t.TempDir()
	var runs [2]*Folder
	for i := range runs {
		dir := filepath.Join(tmp, []string{"a", "b"}[i])
		if _, err := Train(context.Background(), cfg, Options{Out: dir}); err != nil {
			t.Fatal(err)
		}
		f, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = f
	}
	a, b := runs[0].Manifest, runs[1].Manifest
	for _, k := range []string{"clean_acc", "train_loss", "train_acc"} {
		if math.Float64bits(a.Metrics[k]) != math.Float64bits(b.Metrics[k]) {
			t.Errorf("%s: %v then %v", k, a.Metrics[k], b.Metrics[k])
		}
	}
	ma, err := runs[0].Model()
	if err != nil {
		t.Fatal(err)
	}
	mb, err := runs[1].Model()
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := StateDict(ma), StateDict(mb)
	for i, e := range sa.Entries {
		for j, v := range e.Tensor.Data {
			if math.Float32bits(v) != math.Float32bits(sb.Entries[i].Tensor.Data[j]) {
				t.Fatalf("%s[%d]: %v then %v", e.Name, j, v, sb.Entries[i].Tensor.Data[j])
			}
		}
	}

	// A different seed gives a different model.
	cfg.Seed = 2
	dir := filepath.Join(tmp, "c")
	if _, err := Train(context.Background(), cfg, Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := f.Model()
	if err != nil {
		t.Fatal(err)
	}
	if StateDict(mc).Entries[0].Tensor.Data[0] == sa.Entries[0].Tensor.Data[0] {
		t.Fatal("seed 2 gave the same first weight as seed 1")
	}
}

func TestTrainCancelled(t *testing.T) {
	cfg := DefaultTrainConfig()
	cfg.Width, cfg.TrainSubset = 4, 256
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := filepath.Join(t.TempDir(), "run")
	_, err := Train(ctx, cfg, Options{Out: dir})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("a cancelled run wrote its folder")
	}
}

func TestTrainNaN(t *testing.T) {
	cfg := DefaultTrainConfig()
	cfg.Width, cfg.TrainSubset, cfg.BatchSize = 4, 64, 8
	cfg.Optimizer, cfg.LR = "sgd", 1e12
	_, err := Train(context.Background(), cfg, Options{Out: filepath.Join(t.TempDir(), "run")})
	var nan *NaNError
	if !errors.As(err, &nan) || nan.Epoch != 1 || nan.Step < 1 {
		t.Fatalf("err = %v, want a NaNError at epoch 1", err)
	}
}

// A number of epochs whose steps no run could finish (or count) is refused
// before anything is allocated in proportion to it.
func TestTrainHugeEpochs(t *testing.T) {
	cfg := DefaultTrainConfig()
	cfg.Width, cfg.TrainSubset, cfg.TestSubset = 4, 64, 64
	for epochs, want := range map[int]string{
		1e17: "--epochs 100000000000000000: a run is limited to 1000000000 training steps (epochs × steps per epoch)",
		1e9:  "--epochs 1000000000 × 4 steps per epoch = 4000000000 training steps, over the limit of 1000000000",
	} {
		cfg.Epochs = epochs
		_, err := Train(context.Background(), cfg, Options{Out: filepath.Join(t.TempDir(), "run")})
		if err == nil || err.Error() != want {
			t.Errorf("--epochs %d: got %v\nwant %s", epochs, err, want)
		}
	}
}

func TestTrainHugeWidth(t *testing.T) {
	t.Setenv(memlimit.Env, "16GiB")
	cfg := DefaultTrainConfig()
	cfg.Width, cfg.TrainSubset, cfg.TestSubset = 100000, 64, 64
	_, err := Train(context.Background(), cfg, Options{Out: filepath.Join(t.TempDir(), "run")})
	const want = "model mnistnet at width 100000 needs 42.6 TiB of parameters (float32); the limit is 16 GiB (set by EBYD_MAX_MEMORY)"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestStepTimes(t *testing.T) {
	s := newStepTimes(10, 4)
	for _, x := range []float64{9, 9, 9, 1, 2, 3, 4} {
		s.add(x)
	}
	if m := s.median(); m != 2.5 {
		t.Errorf("median of the last 4 = %v, want 2.5", m)
	}
	s = newStepTimes(3, 4)
	for _, x := range []float64{3, 1, 2} {
		s.add(x)
	}
	if m := s.median(); m != 2 {
		t.Errorf("median = %v, want 2", m)
	}
}
