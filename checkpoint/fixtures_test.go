package checkpoint

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// expectedEntry is one tensor of testdata/expected.json (see gen.py).
type expectedEntry struct {
	Name  string `json:"name"`
	DType DType  `json:"dtype"`
	Shape []int  `json:"shape"`
	Bits  []uint32
}

func loadExpected(t testing.TB) map[string][]expectedEntry {
	t.Helper()
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var sets map[string][]expectedEntry
	if err := json.Unmarshal(b, &sets); err != nil {
		t.Fatal(err)
	}
	return sets
}

// fixtureSets maps each readable fixture to the expected set it holds.
var fixtureSets = map[string]string{
	"tiny.pt":              "tiny",
	"tiny_wrapped.pt":      "tiny",
	"tiny_dataparallel.pt": "tiny",
	"tiny_legacy.pt":       "tiny",
	"tiny.safetensors":     "tiny",
	"dtypes.pt":            "dtypes",
	"dtypes.safetensors":   "dtypes",
	"noncontig.pt":         "noncontig",
}

// checkEntries asserts sd holds exactly want: same order, names, dtypes,
// shapes and float32 bit patterns.
func checkEntries(t *testing.T, what string, sd *StateDict, want []expectedEntry) {
	t.Helper()
	wantNames := make([]string, len(want))
	for i, w := range want {
		wantNames[i] = w.Name
	}
	if !slices.Equal(sd.Names(), wantNames) {
		t.Fatalf("%s: names %v, want %v", what, sd.Names(), wantNames)
	}
	for i, w := range want {
		e := sd.Entries[i]
		if e.DType != w.DType {
			t.Errorf("%s: %s dtype %s, want %s", what, w.Name, e.DType, w.DType)
		}
		if !slices.Equal(e.Tensor.Shape, w.Shape) {
			t.Errorf("%s: %s shape %v, want %v", what, w.Name, e.Tensor.Shape, w.Shape)
		}
		if len(e.Tensor.Data) != len(w.Bits) {
			t.Errorf("%s: %s has %d values, want %d", what, w.Name, len(e.Tensor.Data), len(w.Bits))
			continue
		}
		for j, v := range e.Tensor.Data {
			if math.Float32bits(v) != w.Bits[j] {
				t.Errorf("%s: %s[%d] = %v, want %v", what, w.Name, j, v, math.Float32frombits(w.Bits[j]))
				break
			}
		}
	}
}

func TestFixturesMatchPyTorch(t *testing.T) {
	sets := loadExpected(t)
	for file, set := range fixtureSets {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("testdata", file)
			sd, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, file, sd, sets[set])

			// The format-specific readers agree with Load.
			var direct *StateDict
			if strings.HasSuffix(file, ".pt") {
				direct, err = ReadPT(path)
			} else {
				direct, _, err = ReadSafetensors(path)
			}
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, file+" (direct)", direct, sets[set])
		})
	}
}

func TestFixtureSpecifics(t *testing.T) {
	sd, md, err := ReadSafetensors("testdata/tiny.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if md["format"] != "pt" || md["arch"] != "tiny" || len(md) != 2 {
		t.Errorf("metadata %v", md)
	}
	// BatchNorm's counter keeps its int64 dtype, and the value 3 from gen.py.
	e, ok := sd.Lookup("bn.num_batches_tracked")
	if !ok || e.DType != I64 || len(e.Tensor.Shape) != 0 || e.Tensor.Data[0] != 3 {
		t.Errorf("num_batches_tracked = %+v", e)
	}
	if _, ok := sd.Get("module.conv.weight"); ok {
		t.Error("unexpected module. prefix")
	}
	w, ok := sd.Get("conv.weight")
	if !ok || !slices.Equal(w.Shape, []int{2, 1, 3, 3}) {
		t.Errorf("conv.weight = %v, %v", w, ok)
	}
}

// marker is the file the malicious fixtures would create if executed.
const marker = "/tmp/ebyd_pwned"

func TestMaliciousFilesAreRefused(t *testing.T) {
	os.Remove(marker)
	cases := []struct{ file, global string }{
		{"mal_os_system.pt", `"os.system"`},
		{"mal_builtins_eval.pt", `"builtins.eval"`},
		{"mal_subprocess_popen.pt", `"subprocess.Popen"`},
		{"mal_reduce.pt", `"posix.system"`},
		{"whole_model.pt", `"torch.nn.modules.container.Sequential"`},
	}
	for _, c := range cases {
		for _, read := range []func(string) (*StateDict, error){Load, ReadPT} {
			path := filepath.Join("testdata", c.file)
			sd, err := read(path)
			if err == nil {
				t.Errorf("%s: loaded %d entries, want an error", c.file, sd.Len())
				continue
			}
			msg := err.Error()
			want := "checkpoint: " + path + ": refusing pickle global " + c.global
			why := "may be malicious"
			if c.file == "whole_model.pt" {
				why = `whole model saved with torch.save(model)` // and how to save a state_dict
			}
			if !strings.HasPrefix(msg, want) || !strings.Contains(msg, why) {
				t.Errorf("%s: error %q, want it to start with %q", c.file, msg, want)
			}
		}
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("%s exists: a malicious pickle was executed (stat: %v)", marker, err)
	}
}

func TestWrappedCheckpointIgnoresOtherEntries(t *testing.T) {
	// tiny_wrapped.pt also holds the optimizer's momentum tensors; only the
	// model's state_dict must come back.
	sd, err := ReadPT("testdata/tiny_wrapped.pt")
	if err != nil {
		t.Fatal(err)
	}
	if sd.Len() != 9 {
		t.Errorf("%d entries, want the 9 of the model: %v", sd.Len(), sd.Names())
	}
}

// TestNumpyBesideStateDictLoads: {'state_dict': sd, 'best_acc': numpy.float64}
// is how many training scripts save; the numpy value is skipped.
func TestNumpyBesideStateDictLoads(t *testing.T) {
	want, err := ReadPT(filepath.Join("testdata", "tiny.pt"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(filepath.Join("testdata", "numpy_scalar.pt"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Names(), want.Names()) {
		t.Fatalf("names %v, want %v", got.Names(), want.Names())
	}
	for _, n := range want.Names() {
		a, _ := got.Get(n)
		b, _ := want.Get(n)
		if !slices.Equal(a.Data, b.Data) {
			t.Fatalf("%s differs from tiny.pt", n)
		}
	}
}

// TestAttackResultLikeLoads: a BackdoorBench-style checkpoint (numpy arrays
// and an argparse.Namespace beside the model's state dict) yields the model.
func TestAttackResultLikeLoads(t *testing.T) {
	want, err := ReadPT(filepath.Join("testdata", "tiny.pt"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(filepath.Join("testdata", "attack_result_like.pt"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Names(), want.Names()) {
		t.Fatalf("names %v, want %v", got.Names(), want.Names())
	}
}
