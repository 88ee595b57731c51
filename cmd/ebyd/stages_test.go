package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"ebyd/checkpoint"
	"ebyd/fit"
	"ebyd/metrics"
	"ebyd/models"
	"ebyd/nn"
	"ebyd/run"
	"ebyd/tensor"
)

const (
	ptFixture     = "../../models/testdata/mnistnet_w4.pt"
	parityFixture = "../../models/testdata/parity_mnistnet.safetensors"
)

func TestTrainSmallSubset(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	obj := ok(t, "train", "--dataset", "mnist", "--model", "mnistnet", "--width", "4",
		"--train-subset", "256", "--test-subset", "300", "--batch-size", "32", "--seed", "3", "--out", dir)
	acc, _ := obj["clean_acc"].(float64)
	if obj["run"] != dir || !(acc > 0.1 && acc <= 1) || !(obj["median_step_s"].(float64) > 0) {
		t.Fatalf("train JSON %v: want run %s, clean_acc in (0.1, 1], a positive median_step_s", obj, dir)
	}

	f, err := run.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := f.Manifest
	if m.Stage != "train" || m.Model.Width != 4 || m.Model.InChannels != 1 || m.Model.Classes != 10 ||
		m.Dataset.Train.Used != 256 || m.Dataset.Test.Used != 300 || m.Seed != 3 || len(m.Command) == 0 {
		t.Fatalf("manifest does not record the run: %+v", m)
	}
	// The saved weights give the accuracy the run reported.
	model, err := f.Model()
	if err != nil {
		t.Fatal(err)
	}
	_, test, err := f.Data()
	if err != nil {
		t.Fatal(err)
	}
	if test, err = m.Dataset.Test.Select(test); err != nil || test.N != 300 {
		t.Fatalf("test split: %d images, %v; want 300", test.N, err)
	}
	pred, err := fit.Predict(model, test, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := metrics.Accuracy(pred, test.Labels); got != acc {
		t.Fatalf("reloaded model: accuracy %v, run reported %v", got, acc)
	}
}

// fixtureTensor reads one tensor of the PyTorch parity fixture.
func fixtureTensor(t *testing.T, name string) *tensor.Tensor {
	t.Helper()
	sd, _, err := checkpoint.ReadSafetensors(parityFixture)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := sd.Get(name)
	if !ok {
		t.Fatalf("%s has no %q", parityFixture, name)
	}
	return v
}

// importPT imports the PyTorch-written mnistnet fixture into a run folder.
func importPT(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "imported")
	obj := ok(t, "import", "--arch", "mnistnet", "--weights", ptFixture, "--dataset", "mnist", "--test-subset", "200", "--out", dir)
	if obj["width"] != 4.0 || obj["in_channels"] != 1.0 || obj["classes"] != 10.0 {
		t.Fatalf("import JSON %v: want width 4, 1 input channel, 10 classes inferred from the weights", obj)
	}
	return dir
}

// A .pt state_dict written by PyTorch imports and gives PyTorch's logits.
func TestImportPyTorchGivesPyTorchLogits(t *testing.T) {
	f, err := run.Open(importPT(t))
	if err != nil {
		t.Fatal(err)
	}
	model, err := f.Model()
	if err != nil {
		t.Fatal(err)
	}
	got, err := run.Logits(model, fixtureTensor(t, "input"))
	if err != nil {
		t.Fatal(err)
	}
	want := fixtureTensor(t, "eval.logits")
	if !tensor.SameShape(got.Shape, want.Shape) {
		t.Fatalf("logits %v, PyTorch %v", got.Shape, want.Shape)
	}
	for i := range want.Data {
		if d := math.Abs(float64(got.Data[i] - want.Data[i])); !(d <= 1e-4) {
			t.Fatalf("logit %d: %v, PyTorch %v", i, got.Data[i], want.Data[i])
		}
	}
	if d := f.Manifest.Dataset; d.Mean[0] != 0.1307 || d.Std[0] != 0.3081 {
		t.Fatalf("normalisation %v/%v, want MNIST's 0.1307/0.3081", d.Mean, d.Std)
	}
}

func TestImportNormalisationOverride(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "raw")
	ok(t, "import", "--arch", "mnistnet", "--weights", ptFixture, "--mean", "0", "--std", "1", "--test-subset", "50", "--out", dir)
	f, err := run.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := f.Manifest.Dataset; len(d.Mean) != 1 || d.Mean[0] != 0 || d.Std[0] != 1 {
		t.Fatalf("normalisation %v/%v, want 0/1", d.Mean, d.Std)
	}
}

// weights returns the state dict of a run folder's model.
func weights(t *testing.T, dir string) []nn.Entry {
	t.Helper()
	f, err := run.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.Model()
	if err != nil {
		t.Fatal(err)
	}
	return nn.StateDict(m)
}

func sameWeights(t *testing.T, a, b []nn.Entry) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d tensors vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name || !tensor.SameShape(a[i].Tensor.Shape, b[i].Tensor.Shape) {
			t.Fatalf("entry %d: %s %v vs %s %v", i, a[i].Name, a[i].Tensor.Shape, b[i].Name, b[i].Tensor.Shape)
		}
		for j, v := range a[i].Tensor.Data {
			if math.Float32bits(v) != math.Float32bits(b[i].Tensor.Data[j]) {
				t.Fatalf("%s[%d]: %v vs %v", a[i].Name, j, v, b[i].Tensor.Data[j])
			}
		}
	}
}

func TestExportRoundTrip(t *testing.T) {
	src := importPT(t)
	tmp := t.TempDir()
	for _, format := range []string{"pt", "safetensors"} {
		file := filepath.Join(tmp, "model."+format)
		obj := ok(t, "export", "--run", src, "--format", format, "--out", file)
		if obj["format"] != format || obj["file"] != file {
			t.Fatalf("export JSON %v", obj)
		}
		back := filepath.Join(tmp, "back-"+format)
		ok(t, "import", "--arch", "mnistnet", "--weights", file, "--test-subset", "20", "--out", back)
		sameWeights(t, weights(t, src), weights(t, back))
	}
	// The exported .pt holds the same tensors as PyTorch's original file.
	orig, err := checkpoint.Load(ptFixture)
	if err != nil {
		t.Fatal(err)
	}
	exported, err := checkpoint.Load(filepath.Join(tmp, "model.pt"))
	if err != nil {
		t.Fatal(err)
	}
	if orig.Len() != exported.Len() {
		t.Fatalf("exported %d tensors, PyTorch's file has %d", exported.Len(), orig.Len())
	}
	for _, e := range orig.Entries {
		x, ok := exported.Lookup(e.Name)
		if !ok || x.DType != e.DType || !tensor.SameShape(x.Tensor.Shape, e.Tensor.Shape) {
			t.Fatalf("exported %s: %+v, PyTorch %s %v", e.Name, x, e.DType, e.Tensor.Shape)
		}
	}
	// An existing file is replaced only with --force.
	fails(t, []string{"export", "--run", src, "--out", filepath.Join(tmp, "model.pt")}, "already exists", "--force")
	ok(t, "export", "--run", src, "--out", filepath.Join(tmp, "model.pt"), "--force")
}

// BatchNorm's num_batches_tracked leaves as int64, as PyTorch stores it.
func TestExportBatchNormCounterAsInt64(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "resnet")
	ok(t, "train", "--model", "resnet18", "--width", "2", "--train-subset", "64", "--test-subset", "50", "--batch-size", "32", "--out", dir)
	file := filepath.Join(tmp, "resnet.pt")
	ok(t, "export", "--run", dir, "--out", file)
	sd, err := checkpoint.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := sd.Lookup("bn1.num_batches_tracked")
	if !ok || e.DType != checkpoint.I64 || e.Tensor.Data[0] != 2 {
		t.Fatalf("bn1.num_batches_tracked: %+v, want I64 holding 2 (two training steps)", e)
	}
	if w, _ := sd.Lookup("conv1.weight"); w.DType != checkpoint.F32 {
		t.Fatalf("conv1.weight dtype %s, want F32", w.DType)
	}
}

func TestBenchTiny(t *testing.T) {
	obj := ok(t, "bench", "engine", "--model", "mnistnet", "--width", "4", "--batch", "8", "--steps", "2", "--warmup", "1")
	// conv1 8×4×26×26 outputs × 1·3·3, conv2 8×8×24×24 × 4·3·3, fc1 8×16 × 1152, fc2 8×10 × 16.
	macs := 8*4*26*26*9 + 8*8*24*24*36 + 8*16*1152 + 8*10*16
	if obj["forward_macs"] != float64(macs) {
		t.Fatalf("forward_macs %v, want %d", obj["forward_macs"], macs)
	}
	for _, key := range []string{"median_step_s", "min_step_s", "gflops", "peak_rss_mib", "images_per_s", "gomaxprocs"} {
		if v, _ := obj[key].(float64); !(v > 0) {
			t.Errorf("%s = %v, want positive", key, obj[key])
		}
	}
	if obj["blas"] == "" || obj["mode"] != "train" {
		t.Errorf("bench JSON %v", obj)
	}
	eval := ok(t, "bench", "engine", "--model", "resnet18", "--width", "2", "--batch", "2", "--steps", "1", "--warmup", "0", "--mode", "eval")
	if eval["mode"] != "eval" || !(eval["gflops"].(float64) > 0) {
		t.Errorf("eval bench JSON %v", eval)
	}
}

// Each bad input gives one clear error, a non-zero exit and no files.
func TestBadInputs(t *testing.T) {
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	train := func(extra ...string) []string {
		return append([]string{"train", "--width", "4", "--train-subset", "64", "--test-subset", "50", "--out", out}, extra...)
	}
	imp := func(weights string, extra ...string) []string {
		return append([]string{"import", "--arch", "mnistnet", "--weights", weights, "--test-subset", "50", "--out", out}, extra...)
	}
	truncated := func(src, name string) string {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b[:len(b)*2/3], 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A state dict written by ebyd's own exporter, then cut.
	st := filepath.Join(tmp, "w4.safetensors")
	sd, err := checkpoint.Load(ptFixture)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.WriteSafetensors(st, sd, nil); err != nil {
		t.Fatal(err)
	}
	// A 3-channel mnistnet cannot classify 1-channel MNIST.
	rgb, err := models.New("mnistnet", models.Config{InChannels: 3, NumClasses: 10, InputSize: 28, Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	rgbFile := filepath.Join(tmp, "rgb.safetensors")
	if err := checkpoint.WriteSafetensors(rgbFile, run.StateDict(rgb), nil); err != nil {
		t.Fatal(err)
	}
	// Two small tensors that state a width-3000 mnistnet (41 GB).
	w3000 := filepath.Join(tmp, "w3000.safetensors")
	big := &checkpoint.StateDict{}
	big.Set("conv1.weight", checkpoint.F32, tensor.New(3000, 1, 3, 3))
	big.Set("fc2.weight", checkpoint.F32, tensor.New(10, 12000))
	if err := checkpoint.WriteSafetensors(w3000, big, nil); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(tmp, "existing")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(existing, "run.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown model", train("--model", "lenet9"), []string{"unknown model", "lenet9", "mnistnet"}},
		{"unknown dataset", train("--dataset", "cifar100"), []string{"unknown dataset", "cifar100", "mnist"}},
		{"unknown optimizer", train("--optimizer", "lion"), []string{"unknown optimizer"}},
		{"zero epochs", train("--epochs", "0"), []string{"--epochs"}},
		{"huge width", train("--width", "100000"), []string{"model mnistnet at width 100000 needs 42.6 TiB of parameters", "the limit is", "EBYD_MAX_MEMORY"}},
		{"huge epochs", train("--epochs", "1000000000"), []string{"--epochs 1000000000 × 4 steps per epoch", "over the limit of 1000000000"}},
		{"epochs past any count", train("--epochs", "100000000000000000"), []string{"--epochs 100000000000000000", "limited to 1000000000 training steps"}},
		{"weights stating a huge width", imp(w3000), []string{"w3000.safetensors", "hold 147000 values", "width 3000", "not its complete state_dict"}},
		{"NaN loss", train("--optimizer", "sgd", "--lr", "1e12", "--batch-size", "8"), []string{"diverged", "epoch 1", "lower learning rate", "--lr"}},
		{"missing parent", append(train()[:len(train())-2], "--out", filepath.Join(tmp, "no", "such", "run")), []string{"parent directory", "does not exist"}},
		{"truncated .pt", imp(truncated(ptFixture, "cut.pt")), []string{"cut.pt"}},
		{"truncated .safetensors", imp(truncated(st, "cut.safetensors")), []string{"cut.safetensors"}},
		{"missing weights", imp(filepath.Join(tmp, "nope.pt")), []string{"nope.pt"}},
		{"wrong arch", []string{"import", "--arch", "resnet18", "--weights", ptFixture, "--out", out}, []string{"not a resnet18", "mnistnet"}},
		{"3-channel model for mnist", imp(rgbFile), []string{"3-channel", "mnist", "1 channel"}},
		{"bad --mean count", imp(ptFixture, "--mean", "0.1,0.2"), []string{"--mean"}},
		{"unknown import dataset", imp(ptFixture, "--dataset", "imagenet"), []string{"unknown dataset"}},
		{"export of no run", []string{"export", "--run", filepath.Join(tmp, "nothing"), "--out", filepath.Join(tmp, "x.pt")}, []string{"does not exist"}},
		{"export format", []string{"export", "--run", existing, "--out", filepath.Join(tmp, "x.onnx")}, []string{"format"}},
		{"bench model", []string{"bench", "engine", "--model", "alexnet"}, []string{"unknown model"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fails(t, c.args, c.want...)
			absent(t, out)
		})
	}

	t.Run("existing run without --force", func(t *testing.T) {
		fails(t, []string{"train", "--width", "4", "--train-subset", "64", "--out", existing}, "already exists", "--force")
		if b, _ := os.ReadFile(filepath.Join(existing, "run.json")); string(b) != "{}" {
			t.Fatal("the existing run was modified")
		}
	})
	t.Run("force never replaces a non-run directory", func(t *testing.T) {
		other := filepath.Join(tmp, "home")
		os.Mkdir(other, 0o755)
		os.WriteFile(filepath.Join(other, "notes.txt"), []byte("keep"), 0o644)
		fails(t, []string{"train", "--width", "4", "--train-subset", "64", "--out", other, "--force"}, "not a run folder")
		if b, _ := os.ReadFile(filepath.Join(other, "notes.txt")); string(b) != "keep" {
			t.Fatal("a non-run directory was touched")
		}
	})
	t.Run("existing run with --force", func(t *testing.T) {
		ok(t, "train", "--width", "4", "--train-subset", "64", "--test-subset", "50", "--out", existing, "--force")
		if _, err := run.Open(existing); err != nil {
			t.Fatal(err)
		}
		absent(t, filepath.Join(tmp, "never-created"))
	})
}
