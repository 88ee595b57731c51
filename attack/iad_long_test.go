//go:build long

package attack

import (
	"context"
	"testing"
	"time"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/metrics"
	"ebyd/models"
	"ebyd/nn"
)

// iadAccuracy is the top-1 accuracy of model on ds in evaluation mode.
func iadAccuracy(model nn.Module, ds *data.Dataset) float64 {
	nn.SetTraining(model, false)
	defer nn.SetTraining(model, true)
	var pred, labels []int
	ld := &data.Loader{Data: ds, BatchSize: 500}
	ag.NoGrad(func() {
		for x, y := range ld.Epoch(0) {
			pred = append(pred, model.Forward(ag.Const(x)).Value.ArgMaxRows()...)
			labels = append(labels, y...)
		}
	})
	return metrics.Accuracy(pred, labels)
}

// TestIADMNISTLong trains the MNIST network with the input-aware attack
// (all2one, target 0, the release's ρ_b = ρ_c = 0.1) on the full training
// set and checks clean accuracy and attack success rate on the test set.
//
// The release trains for 600 epochs; this run has to fit a few minutes on 2
// cores. Three choices make 5 epochs enough: the network at width 16 (half
// the default), Adam at 2e-3 with batches of 128, and lambda_norm 10 instead
// of 100, so that the masks cover about 12% of the image rather than about
// 4%. The attack learns slowly at first whatever the settings (train-batch
// ASR about 50% after one epoch, 80% after two), and early on the seed
// matters: with the release's lambda_norm, a short mask stage and Adam at
// 2e-3, 3 epochs gave 96.5% ASR for seed 1 and 76.9% for seed 2; with
// lambda_norm 10, 3 epochs gave 91.2% and 90.1%.
//
// Measured once (GOMAXPROCS 2, oneDNN, the machine shared with other jobs,
// load average about 10): CA 98.71%, ASR 96.21% on the 9020 non-target test
// images, 533 s to fit, 608 s in all.
func TestIADMNISTLong(t *testing.T) {
	start := time.Now()
	train, test, err := data.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	s := Shape{H: train.H, W: train.W, C: train.C}
	tr := mustNew(t, "iad", s, `{"lambda_norm": 10}`).(*IAD)
	model, err := models.New("mnistnet", models.Config{InChannels: 1, NumClasses: 10, InputSize: 28, Width: 16, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := FitConfig{Epochs: 5, BatchSize: 128, Optimizer: "adam", LR: 2e-3, Schedule: "constant", Seed: 1}
	p := Poisoning{Mode: All2One, Target: 0, Rate: 0.1, Seed: 1}
	last := time.Now()
	err = tr.Fit(context.Background(), model, train, p, cfg, func(done, total int, status string) {
		if time.Since(last) > 15*time.Second || done == total {
			last = time.Now()
			t.Logf("%d/%d %s", done, total, status)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	fit := time.Since(start)

	ca := iadAccuracy(model, test)
	bd, err := TestSet(test, tr, p)
	if err != nil {
		t.Fatal(err)
	}
	asr := iadAccuracy(model, bd)
	t.Logf("IAD on MNIST (mnistnet width 16, 5 epochs): CA %.2f%%, ASR %.2f%% on %d images; fit %.0f s, total %.0f s",
		100*ca, 100*asr, bd.N, fit.Seconds(), time.Since(start).Seconds())
	if ca < 0.97 || asr < 0.95 {
		t.Errorf("CA %.4f (want ≥ 0.97), ASR %.4f (want ≥ 0.95)", ca, asr)
	}
}
