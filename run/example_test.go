package run_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"ebyd/fit"
	"ebyd/run"
)

// Train a small model, then open its run folder and rebuild the model, as a
// later stage does.
func ExampleTrain() {
	tmp, _ := os.MkdirTemp("", "ebyd-example-")
	defer os.RemoveAll(tmp)

	cfg := run.DefaultTrainConfig() // MNIST, mnistnet, Adam
	cfg.Width, cfg.TrainSubset, cfg.TestSubset = 4, 128, 100
	res, err := run.Train(context.Background(), cfg, run.Options{Out: filepath.Join(tmp, "clean")})
	if err != nil {
		fmt.Println(err)
		return
	}
	acc := res.Manifest.Metrics["clean_acc"]
	fmt.Println("clean accuracy is a fraction:", acc >= 0 && acc <= 1)

	f, err := run.Open(res.Dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	model, err := f.Model()
	if err != nil {
		fmt.Println(err)
		return
	}
	_, test, _ := f.Data()
	test, _ = f.Manifest.Dataset.Test.Select(test)
	again, _ := fit.Accuracy(model, test, 0)
	fmt.Println(f.Manifest.Stage, f.Manifest.Model.Arch, f.Manifest.Model.Width, again == acc)
	// Output:
	// clean accuracy is a fraction: true
	// train mnistnet 4 true
}
