//go:build long

package run

import (
	"context"
	"path/filepath"
	"testing"
)

// The default configuration reaches 98.5% MNIST test accuracy in one epoch
// (about 1.5 minutes on 2 cores). Run with: go test -tags long -run Default ./run
func TestDefaultTrainAccuracy(t *testing.T) {
	res, err := Train(context.Background(), DefaultTrainConfig(), Options{Out: filepath.Join(t.TempDir(), "run")})
	if err != nil {
		t.Fatal(err)
	}
	acc := res.Manifest.Metrics["clean_acc"]
	t.Logf("mnistnet, 1 epoch, defaults: clean acc %.4f in %.0f s (median step %.3f s)",
		acc, res.Manifest.Seconds["total"], res.Manifest.Seconds["median_step"])
	if acc < 0.985 {
		t.Fatalf("clean accuracy %.4f < 0.985", acc)
	}
}
