package run

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"ebyd/checkpoint"
	"ebyd/tensor"
)

// A small file whose first and last tensors state a width-3000 mnistnet
// (41 GB of parameters) is refused before the network is built.
func TestImportRefusesWidthTheFileCannotHold(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w3000.safetensors")
	sd := &checkpoint.StateDict{}
	sd.Set("conv1.weight", checkpoint.F32, tensor.New(3000, 1, 3, 3))
	sd.Set("fc2.weight", checkpoint.F32, tensor.New(10, 12000))
	if err := checkpoint.WriteSafetensors(path, sd, nil); err != nil {
		t.Fatal(err)
	}
	cfg := ImportConfig{Arch: "mnistnet", Weights: path, Dataset: "mnist", TestSubset: 10}
	_, err := Import(context.Background(), cfg, Options{Out: filepath.Join(dir, "run")})
	const want = "the weights hold 147000 values, but the mnistnet they describe (width 3000, 1 input channels, 10 classes, 28×28 images) has 10530168010 parameters: they are not its complete state_dict"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}
