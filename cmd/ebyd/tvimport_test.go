package main

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ebyd/checkpoint"
	"ebyd/run"
)

const (
	tvFixture       = "../../models/testdata/resnet18_tv_w4.pt"
	tvParityFixture = "../../models/testdata/parity_resnet18_tv.safetensors"
)

// fakeCIFAR writes a CIFAR-10 binary folder of n random records per file.
func fakeCIFAR(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 7))
	for _, name := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		b := make([]byte, n*3073)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		for i := 0; i < n; i++ {
			b[i*3073] = byte(i % 10)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// torchvision's ResNet-18 state_dict, as torch.save wrote it, imports by
// name and by detection, and the run folder's model gives PyTorch's logits.
func TestImportTorchvisionResNet18(t *testing.T) {
	cifar := fakeCIFAR(t, 20)
	want, err := checkpoint.Load(tvParityFixture)
	if err != nil {
		t.Fatal(err)
	}
	input, _ := want.Get("input")
	logits, _ := want.Get("eval.logits")
	for _, arch := range []string{"resnet18-tv", "auto"} {
		dir := filepath.Join(t.TempDir(), "tv")
		obj := ok(t, "import", "--arch", arch, "--weights", tvFixture, "--dataset", "cifar10", "--data-dir", cifar, "--out", dir)
		if obj["width"] != 4.0 || obj["in_channels"] != 3.0 || obj["classes"] != 10.0 {
			t.Fatalf("--arch %s: import JSON %v: want width 4, 3 input channels, 10 classes", arch, obj)
		}
		f, err := run.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if f.Manifest.Model.Arch != "resnet18-tv" {
			t.Errorf("--arch %s: manifest arch %q", arch, f.Manifest.Model.Arch)
		}
		model, err := f.Model()
		if err != nil {
			t.Fatal(err)
		}
		got, err := run.Logits(model, input)
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		for i := range logits.Data {
			worst = math.Max(worst, math.Abs(float64(got.Data[i]-logits.Data[i])))
		}
		if !(worst <= 1e-4) {
			t.Errorf("--arch %s: max |logit - PyTorch| = %g", arch, worst)
		}
	}
	out := filepath.Join(t.TempDir(), "wrong")
	fails(t, []string{"import", "--arch", "resnet18", "--weights", tvFixture, "--dataset", "cifar10", "--data-dir", cifar, "--out", out},
		`no "linear.weight"`, "look like a resnet18-tv", "--arch resnet18-tv")
}

// --rename maps a head saved under another name onto the architecture's.
func TestImportRenameFlag(t *testing.T) {
	sd, err := checkpoint.Load(ptFixture)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range sd.Entries {
		sd.Entries[i].Name = strings.Replace(e.Name, "fc2.", "classifier.", 1)
	}
	dir := t.TempDir()
	renamed := filepath.Join(dir, "renamed.pt")
	if err := checkpoint.WritePT(renamed, sd); err != nil {
		t.Fatal(err)
	}
	args := func(out string, extra ...string) []string {
		return append([]string{"import", "--arch", "mnistnet", "--weights", renamed, "--test-subset", "20", "--out", filepath.Join(dir, out)}, extra...)
	}
	fails(t, args("plain"), `no "fc2.weight"`, `lacks "fc2.bias", "fc2.weight" and has "classifier.weight", "classifier.bias" (try --rename "classifier.=fc2.")`)
	obj := ok(t, args("renamed", "--rename", "classifier.=fc2.")...)
	if obj["width"] != 4.0 || obj["classes"] != 10.0 {
		t.Fatalf("import JSON %v", obj)
	}
	f, err := run.Open(filepath.Join(dir, "renamed"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg run.ImportConfig
	if err := json.Unmarshal(f.Manifest.Config, &cfg); err != nil || !slices.Equal(cfg.Rename, []string{"classifier.=fc2."}) {
		t.Errorf("run.json config does not record the mapping: %s (%v)", f.Manifest.Config, err)
	}
	fails(t, args("unused", "--rename", "classifier.=fc2.", "--rename", "head.=fc2."), `--rename "head.=fc2.": no name in the file starts with "head."`)
	fails(t, args("bad", "--rename", "classifier."), "want OLD=NEW")
}

// torchvision's MobileNetV2 saved in float16 imports by detection and gives
// PyTorch's logits.
func TestImportTorchvisionMobileNetV2(t *testing.T) {
	io, err := checkpoint.Load("../../models/testdata/mobilenetv2_tv_logits.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	input, _ := io.Get("input")
	logits, _ := io.Get("eval.logits")
	dir := filepath.Join(t.TempDir(), "mb")
	obj := ok(t, "import", "--arch", "auto", "--weights", "../../models/testdata/mobilenetv2_tv_w8_fp16.pt",
		"--dataset", "cifar10", "--data-dir", fakeCIFAR(t, 20), "--out", dir)
	if obj["width"] != 8.0 || obj["classes"] != 10.0 {
		t.Fatalf("import JSON %v: want width 8, 10 classes", obj)
	}
	f, err := run.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f.Manifest.Model.Arch != "mobilenetv2-tv" {
		t.Errorf("manifest arch %q", f.Manifest.Model.Arch)
	}
	model, err := f.Model()
	if err != nil {
		t.Fatal(err)
	}
	got, err := run.Logits(model, input)
	if err != nil {
		t.Fatal(err)
	}
	for i := range logits.Data {
		if d := math.Abs(float64(got.Data[i] - logits.Data[i])); !(d <= 1e-4) {
			t.Fatalf("logit %d: %v, PyTorch %v", i, got.Data[i], logits.Data[i])
		}
	}
}

// torchvision's VGG-16 names, with and without BatchNorm, import by
// detection (the two share their first and last names) and give PyTorch's
// logits.
func TestImportTorchvisionVGG16(t *testing.T) {
	cifar := fakeCIFAR(t, 20)
	for arch, fixture := range map[string]string{"vgg16-tv": "parity_vgg16_tv", "vgg16bn-tv": "parity_vgg16bn_tv"} {
		fx, err := checkpoint.Load("../../models/testdata/" + fixture + ".safetensors")
		if err != nil {
			t.Fatal(err)
		}
		sd := &checkpoint.StateDict{}
		for _, e := range fx.Entries {
			if name, ok := strings.CutPrefix(e.Name, "param."); ok {
				sd.Set(name, e.DType, e.Tensor)
			}
		}
		weights := filepath.Join(t.TempDir(), "vgg.pt")
		if err := checkpoint.WritePT(weights, sd); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "vgg")
		obj := ok(t, "import", "--arch", "auto", "--weights", weights, "--dataset", "cifar10", "--data-dir", cifar, "--out", dir)
		if obj["width"] != 1.0 || obj["classes"] != 10.0 {
			t.Fatalf("%s: import JSON %v: want width 1, 10 classes", arch, obj)
		}
		f, err := run.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if f.Manifest.Model.Arch != arch {
			t.Errorf("detected %q, want %s", f.Manifest.Model.Arch, arch)
		}
		model, err := f.Model()
		if err != nil {
			t.Fatal(err)
		}
		input, _ := fx.Get("input")
		logits, _ := fx.Get("eval.logits")
		got, err := run.Logits(model, input)
		if err != nil {
			t.Fatal(err)
		}
		for i := range logits.Data {
			if d := math.Abs(float64(got.Data[i] - logits.Data[i])); !(d <= 1e-4) {
				t.Fatalf("%s logit %d: %v, PyTorch %v", arch, i, got.Data[i], logits.Data[i])
			}
		}
	}
}
