package checkpoint

import (
	"archive/zip"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ebyd/tensor"
)

// sampleStateDict has every dtype, a 0-d and an empty tensor, with values
// each dtype holds exactly.
func sampleStateDict() *StateDict {
	sd := &StateDict{}
	sd.Set("conv1.weight", F32, tensor.FromData([]float32{0.5, -1.25, 3e-38, float32(math.Inf(1)), 7, 8}, 2, 1, 3, 1))
	sd.Set("conv1.bias", F64, tensor.FromData([]float32{1.0 / 3, -2}, 2))
	sd.Set("bn1.running_var", F16, tensor.FromData([]float32{1, 0.5, 65504}, 3))
	sd.Set("bn1.weight", BF16, tensor.FromData([]float32{1, -2, 0.15625}, 3))
	sd.Set("bn1.num_batches_tracked", I64, tensor.Scalar(12345))
	sd.Set("idx", I32, tensor.FromData([]float32{-7, 1 << 20}, 1, 2))
	sd.Set("short", I16, tensor.FromData([]float32{-300}, 1))
	sd.Set("char", I8, tensor.FromData([]float32{-100}, 1))
	sd.Set("mask.pixels", U8, tensor.FromData([]float32{0, 255, 128, 1}, 2, 2))
	sd.Set("mask.on", Bool, tensor.FromData([]float32{1, 0}, 2))
	sd.Set("empty", F32, tensor.New(0, 4))
	return sd
}

func sameStateDict(t *testing.T, what string, got, want *StateDict) {
	t.Helper()
	if !slices.Equal(got.Names(), want.Names()) {
		t.Fatalf("%s: names %v, want %v", what, got.Names(), want.Names())
	}
	for i, w := range want.Entries {
		g := got.Entries[i]
		if g.DType != w.DType || !slices.Equal(g.Tensor.Shape, w.Tensor.Shape) {
			t.Errorf("%s: %s is %s%v, want %s%v", what, w.Name, g.DType, g.Tensor.Shape, w.DType, w.Tensor.Shape)
			continue
		}
		for j := range w.Tensor.Data {
			if math.Float32bits(g.Tensor.Data[j]) != math.Float32bits(w.Tensor.Data[j]) {
				t.Errorf("%s: %s = %v, want %v", what, w.Name, g.Tensor.Data, w.Tensor.Data)
				break
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	want := sampleStateDict()
	// F64 1/3 is held as float32, so it comes back as that float32.
	for _, name := range []string{"m.pt", "m.pth", "m.bin", "m.safetensors"} {
		path := filepath.Join(dir, name)
		if err := Save(path, want); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		sameStateDict(t, name, got, want)
	}
	// Writing again replaces the file.
	path := filepath.Join(dir, "m.pt")
	small := &StateDict{}
	small.Set("only", F32, tensor.Scalar(1))
	if err := WritePT(path, small); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPT(path)
	if err != nil {
		t.Fatal(err)
	}
	sameStateDict(t, "rewritten", got, small)
}

func TestLoadDetectsFormatByContent(t *testing.T) {
	dir := t.TempDir()
	want := sampleStateDict()
	pt, st := filepath.Join(dir, "weights.safetensors"), filepath.Join(dir, "weights.pt")
	// Deliberately misleading names.
	if err := WritePT(pt, want); err != nil {
		t.Fatal(err)
	}
	if err := WriteSafetensors(st, want, nil); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{pt, st} {
		got, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		sameStateDict(t, path, got, want)
	}
}

func TestSafetensorsMetadataRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	md := map[string]string{"arch": "mnistnet", "quote\"d": "line\nbreak"}
	if err := WriteSafetensors(path, sampleStateDict(), md); err != nil {
		t.Fatal(err)
	}
	_, got, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(md) || got["arch"] != "mnistnet" || got["quote\"d"] != "line\nbreak" {
		t.Errorf("metadata %v, want %v", got, md)
	}
	b, _ := os.ReadFile(path)
	hlen := int(b[0]) | int(b[1])<<8
	if (8+hlen)%8 != 0 {
		t.Errorf("header length %d leaves the data unaligned", hlen)
	}
}

func TestWritePTLayoutMatchesTorch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.pt")
	if err := WritePT(path, sampleStateDict()); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		if f.Method != zip.Store || off%64 != 0 {
			t.Errorf("%s: method %d, data at %d: want stored and 64-byte aligned", f.Name, f.Method, off)
		}
	}
	if names[0] != "archive/data.pkl" || names[len(names)-1] != "archive/version" || !slices.Contains(names, "archive/data/10") {
		t.Errorf("entries %v", names)
	}
}

func TestWriteRefusesBadStateDicts(t *testing.T) {
	good := func() *StateDict {
		sd := &StateDict{}
		sd.Set("a", F32, tensor.New(2))
		return sd
	}
	cases := []struct {
		name  string
		edit  func(sd *StateDict)
		want  string
		onlyS bool // safetensors only
	}{
		{"duplicate", func(sd *StateDict) { sd.Entries = append(sd.Entries, sd.Entries[0]) }, `"a" appears twice`, false},
		{"empty name", func(sd *StateDict) { sd.Entries[0].Name = "" }, "empty name", false},
		{"nil tensor", func(sd *StateDict) { sd.Entries[0].Tensor = nil }, "no tensor", false},
		{"short data", func(sd *StateDict) { sd.Entries[0].Tensor.Shape = []int{3} }, "do not fill", false},
		{"negative shape", func(sd *StateDict) { sd.Entries[0].Tensor.Shape = []int{-2} }, "invalid shape", false},
		{"unknown dtype", func(sd *StateDict) { sd.Entries[0].DType = "C64" }, `unsupported dtype "C64"`, false},
		{"fractional int", func(sd *StateDict) { sd.Entries[0].DType = I64; sd.Entries[0].Tensor.Data[1] = 2.5 }, "element 1: value 2.5 is not a I64 value", false},
		{"bool 2", func(sd *StateDict) { sd.Entries[0].DType = Bool; sd.Entries[0].Tensor.Data[0] = 2 }, "is not a BOOL value", false},
		{"reserved name", func(sd *StateDict) { sd.Entries[0].Name = "__metadata__" }, "reserved", true},
	}
	for _, c := range cases {
		for _, ext := range []string{".pt", ".safetensors"} {
			if c.onlyS && ext == ".pt" {
				continue
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "m"+ext)
			sd := good()
			c.edit(sd)
			err := Save(path, sd)
			if err == nil || !strings.HasPrefix(err.Error(), "checkpoint: "+path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s%s: error %v, want one naming the file and %q", c.name, ext, err, c.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("%s%s: left %v behind", c.name, ext, entries)
			}
		}
	}
	if err := Save(filepath.Join(t.TempDir(), "m.onnx"), good()); err == nil || !strings.Contains(err.Error(), "unknown extension") {
		t.Errorf("Save to .onnx: %v", err)
	}
}

func TestStateDictMethods(t *testing.T) {
	sd := &StateDict{}
	a, b := tensor.New(1), tensor.New(2)
	sd.Set("a", F32, a)
	sd.Set("b", I64, b)
	sd.Set("a", F16, b) // replaces in place
	if !slices.Equal(sd.Names(), []string{"a", "b"}) || sd.Len() != 2 {
		t.Fatalf("names %v", sd.Names())
	}
	if got, ok := sd.Get("a"); !ok || got != b {
		t.Errorf("Get(a) = %v, %v", got, ok)
	}
	if e, ok := sd.Lookup("a"); !ok || e.DType != F16 {
		t.Errorf("Lookup(a) = %+v", e)
	}
	if _, ok := sd.Get("c"); ok {
		t.Error("Get(c) found something")
	}
}
