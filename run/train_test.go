package run

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"
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
