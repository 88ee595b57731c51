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

// writeModel saves a freshly built model's state dict, its names rewritten
// by rename (old prefix to new), as safetensors.
func writeModel(t *testing.T, mi ModelInfo, oldPrefix, newPrefix string) string {
	t.Helper()
	m, err := mi.Build()
	if err != nil {
		t.Fatal(err)
	}
	sd := StateDict(m)
	for i, e := range sd.Entries {
		if strings.HasPrefix(e.Name, oldPrefix) {
			sd.Entries[i].Name = newPrefix + strings.TrimPrefix(e.Name, oldPrefix)
		}
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := checkpoint.WriteSafetensors(path, sd, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// A head saved under another name is refused, and imports with --rename.
func TestImportRename(t *testing.T) {
	mi := ModelInfo{Arch: "mnistnet", InChannels: 1, Classes: 10, InputSize: 28, Width: 4}
	path := writeModel(t, mi, "fc2.", "classifier.")
	imp := func(arch string, rename ...string) (*Result, error) {
		cfg := ImportConfig{Arch: arch, Weights: path, Dataset: "mnist", TestSubset: 10, Rename: rename}
		return Import(context.Background(), cfg, Options{Out: filepath.Join(t.TempDir(), "run")})
	}
	if _, err := imp("mnistnet"); err == nil || !strings.Contains(err.Error(), `no "fc2.weight"`) {
		t.Errorf("without --rename: %v, want no fc2.weight", err)
	}
	for _, arch := range []string{"mnistnet", "auto"} {
		res, err := imp(arch, "classifier.=fc2.")
		if err != nil {
			t.Fatalf("--arch %s --rename classifier.=fc2.: %v", arch, err)
		}
		if m := res.Manifest.Model; m.Arch != "mnistnet" || m.Width != 4 {
			t.Errorf("--arch %s: imported %+v", arch, m)
		}
	}
	for _, c := range []struct {
		rename []string
		want   string
	}{
		{[]string{"head.=fc2."}, `--rename "head.=fc2.": no name in the file starts with "head."`},
		{[]string{"classifier.=fc2.", "classifier.=fc3."}, `--rename "classifier.=fc3.": no name in the file starts with "classifier." (or an earlier mapping took them)`},
		{[]string{"classifier."}, `--rename "classifier.": want OLD=NEW`},
		{[]string{"=x"}, `want OLD=NEW`},
		{[]string{"classifier.=fc1."}, `--rename makes "fc1.weight" and "classifier.weight" both "fc1.weight"`},
	} {
		if _, err := imp("mnistnet", c.rename...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--rename %q: %v, want %s", c.rename, err, c.want)
		}
	}
}

// --arch auto names the architecture from the state_dict's names: here a
// torchvision ResNet-18 (one input channel, for MNIST).
func TestImportArchAuto(t *testing.T) {
	mi := ModelInfo{Arch: "resnet18-tv", InChannels: 1, Classes: 10, InputSize: 28, Width: 4}
	path := writeModel(t, mi, "", "")
	cfg := ImportConfig{Arch: "auto", Weights: path, Dataset: "mnist", TestSubset: 10}
	res, err := Import(context.Background(), cfg, Options{Out: filepath.Join(t.TempDir(), "run")})
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Manifest.Model; m.Arch != "resnet18-tv" || m.Width != 4 || m.InChannels != 1 {
		t.Errorf("auto imported %+v", m)
	}
	// Names of no architecture: auto says so and shows some.
	path = writeModel(t, mi, "fc.", "head.")
	cfg.Weights = path
	_, err = Import(context.Background(), cfg, Options{Out: filepath.Join(t.TempDir(), "run")})
	if err == nil || !strings.Contains(err.Error(), "--arch auto: the names are not those of any architecture") || !strings.Contains(err.Error(), `lacks "fc.bias", "fc.weight" and has "head.weight", "head.bias" (try --rename "head.=fc.")`) {
		t.Errorf("auto on unknown names: %v", err)
	}
}
