package run

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ebyd/checkpoint"
	"ebyd/models"
)

// trained writes a tiny trained run folder and returns its directory.
func trained(t *testing.T) string {
	t.Helper()
	cfg := DefaultTrainConfig()
	cfg.Width, cfg.TrainSubset, cfg.TestSubset = 4, 64, 50
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Train(context.Background(), cfg, Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestOpenErrors(t *testing.T) {
	src := trained(t)
	if _, err := Open(src); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want one mentioning %q", what, err, want)
		}
	}
	_, err := Open(filepath.Join(t.TempDir(), "missing"))
	check("missing folder", err, "does not exist")

	_, err = Open(t.TempDir())
	check("no run.json", err, "no run.json")

	dir := copyDir(t, src)
	os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{"format": "ebyd-run/1", "model": `), 0o644)
	_, err = Open(dir)
	check("truncated run.json", err, "corrupt manifest")

	dir = copyDir(t, src)
	b, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	os.WriteFile(filepath.Join(dir, ManifestFile), []byte(strings.Replace(string(b), `"arch": "mnistnet"`, `"arch": "alexnet"`, 1)), 0o644)
	_, err = Open(dir)
	check("unknown arch", err, "alexnet")

	dir = copyDir(t, src)
	os.Remove(filepath.Join(dir, ModelFile))
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Model()
	check("no model.safetensors", err, "has no model.safetensors")

	// Weights of another architecture than run.json says.
	dir = copyDir(t, src)
	m, _ := models.New("resnet18", models.Config{InChannels: 1, NumClasses: 10, InputSize: 28, Width: 2})
	meta := weightsMetadata(ModelInfo{Arch: "resnet18", InChannels: 1, Classes: 10, InputSize: 28, Width: 2})
	if err := checkpoint.WriteSafetensors(filepath.Join(dir, ModelFile), StateDict(m), meta); err != nil {
		t.Fatal(err)
	}
	f, _ = Open(dir)
	_, err = f.Model()
	check("arch mismatch", err, "holds a resnet18 but run.json says mnistnet")

	// The same without metadata: the state dict itself does not fit.
	checkpoint.WriteSafetensors(filepath.Join(dir, ModelFile), StateDict(m), nil)
	_, err = f.Model()
	check("foreign weights", err, "does not fit")
}

func TestCheckOut(t *testing.T) {
	tmp := t.TempDir()
	os.WriteFile(filepath.Join(tmp, "file"), nil, 0o644)
	os.Mkdir(filepath.Join(tmp, "empty"), 0o755)
	os.Mkdir(filepath.Join(tmp, "other"), 0o755)
	os.WriteFile(filepath.Join(tmp, "other", "x"), nil, 0o644)
	os.Mkdir(filepath.Join(tmp, "run"), 0o755)
	os.WriteFile(filepath.Join(tmp, "run", ManifestFile), nil, 0o644)
	for _, c := range []struct {
		dir   string
		force bool
		want  string // "" for allowed
	}{
		{"", false, "no output folder"},
		{"new", false, ""},
		{"no/new", false, "parent directory"},
		{"file", true, "a file of that name"},
		{"empty", false, ""},
		{"other", true, "not a run folder"},
		{"run", false, "--force"},
		{"run", true, ""},
	} {
		dir := c.dir
		if dir != "" {
			dir = filepath.Join(tmp, dir)
		}
		err := CheckOut(dir, c.force)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("CheckOut(%q, %v) = %v, want %q", c.dir, c.force, err, c.want)
		}
	}
}

func TestSaveReplacesAtomically(t *testing.T) {
	src := trained(t)
	f, _ := Open(src)
	m, err := f.Model()
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	c := Contents{Manifest: f.Manifest, Model: m, Files: map[string][]byte{"extra.txt": []byte("x")}}
	if err := Save(dir, false, c); err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, false, c); err == nil {
		t.Fatal("Save replaced a run without force")
	}
	c.Files = nil
	if err := Save(dir, true, c); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "extra.txt")); err == nil {
		t.Fatal("the replaced folder's files survived")
	}
	// A failing write leaves neither a folder nor temporaries.
	c.Files = map[string][]byte{"../escape": nil}
	if err := Save(filepath.Join(parent, "bad"), false, c); err == nil {
		t.Fatal("Save accepted a file name with a path")
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 || entries[0].Name() != "out" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("parent holds %v, want only out", names)
	}
}

func TestDefaultOut(t *testing.T) {
	t.Chdir(t.TempDir())
	first, err := DefaultOut("train-mnist-mnistnet")
	if err != nil {
		t.Fatal(err)
	}
	if first != filepath.Join("runs", "train-mnist-mnistnet") {
		t.Fatalf("first default = %q", first)
	}
	os.Mkdir(first, 0o755)
	if second, _ := DefaultOut("train-mnist-mnistnet"); second != first+"-2" {
		t.Fatalf("second default = %q, want %q", second, first+"-2")
	}
}
