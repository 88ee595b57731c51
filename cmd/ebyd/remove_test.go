package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ebyd/run"
)

// tinyExposed trains a tiny backdoored run and exposes it for the remove
// tests: the suspect and its exposed folder.
func tinyExposed(t *testing.T) (suspect, exposed string) {
	t.Helper()
	suspect = tinyExposeSuspect(t)
	exposed = filepath.Join(t.TempDir(), "exposed")
	ok(t, "expose", "--run", suspect, "--method", "cul-seed", "--param", "epochs=1", "--defense-size", "64", "--out", exposed, "-q")
	return suspect, exposed
}

func TestRemove(t *testing.T) {
	suspect, exposed := tinyExposed(t)
	out := filepath.Join(t.TempDir(), "clean")
	det := filepath.Join(t.TempDir(), "nc")
	ok(t, "detect", "--run", suspect, "--exposed", exposed, "--method", "nc", "--epochs", "1", "--out", det, "-q")
	obj := ok(t, "remove", "--run", suspect, "--exposed", exposed, "--trigger", det, "--params", `{"mask_epochs":2,"finetune":{"epochs":1}}`, "--test-subset", "50", "--out", out)
	if obj["method"] != "ebyd-rnp" || obj["asr"] == nil || obj["initial_asr"] == nil || obj["defense_size"] != 64.0 ||
		obj["defense_from"] != "exposed" || !(obj["seconds"].(float64) > 0) || obj["cut"] == nil {
		t.Fatalf("remove JSON %v", obj)
	}
	for _, name := range []string{run.ModelFile, run.ManifestFile, run.RemovalFile, run.DefenseFile} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("the remove folder lacks %s: %v", name, err)
		}
	}
	f, err := run.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if f.Manifest.Stage != "remove" || f.Manifest.Parent != suspect {
		t.Fatalf("manifest %+v", f.Manifest)
	}
	if _, err := f.Model(); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Scores []struct{ Layer string }
		Rows   []struct{ Stage string }
		Notes  []string
	}
	b, _ := os.ReadFile(filepath.Join(out, run.RemovalFile))
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Scores) == 0 || len(rep.Rows) != 3 || rep.Rows[0].Stage != "masks" ||
		rep.Rows[2].Stage != "finetune" || !strings.Contains(strings.Join(rep.Notes, ";"), "recovered trigger") {
		t.Fatalf("removal.json (%v):\n%s", err, b)
	}
	// rnp: the run stage unlearns first; a learning rate so large that the
	// unlearning diverges is halved until it does not.
	out = filepath.Join(t.TempDir(), "rnp")
	ok(t, "remove", "--run", suspect, "--method", "rnp", "--params", `{"unlearn":{"epochs":2,"lr":1e30},"retries":200,"mask_epochs":1}`,
		"--defense-size", "32", "--test-subset", "50", "--out", out, "-q")
	b, _ = os.ReadFile(filepath.Join(out, run.RemovalFile))
	rep.Rows, rep.Notes = nil, nil
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Rows) < 2 || rep.Rows[0].Stage != "unlearn" ||
		!strings.Contains(strings.Join(rep.Notes, ";"), "restarting at lr") {
		t.Fatalf("rnp removal.json (%v):\n%s", err, b)
	}

	// A baseline without an exposed model, on a drawn defense set.
	obj = ok(t, "remove", "--run", suspect, "--method", "ft", "--params", `{"epochs":1}`, "--defense-size", "32",
		"--test-subset", "50", "--out", filepath.Join(t.TempDir(), "ft"))
	if obj["method"] != "ft" || obj["defense_from"] != "drawn" || obj["defense_size"] != 32.0 {
		t.Fatalf("ft JSON %v", obj)
	}
}

func TestRemoveBadInputs(t *testing.T) {
	suspect, exposed := tinyExposed(t)
	// Another model: the same recipe with another seed (the same seed would
	// give the same bytes, which the parent check rightly accepts).
	other := filepath.Join(t.TempDir(), "other")
	ok(t, "train", "--attack", "badnets", "--target", "3", "--width", "2", "--train-subset", "200",
		"--test-subset", "100", "--batch-size", "32", "--seed", "3", "--out", other, "-q")
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	noModel := filepath.Join(tmp, "nomodel")
	if err := os.Mkdir(noModel, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(suspect, run.ManifestFile))
	if err := os.WriteFile(filepath.Join(noModel, run.ManifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	// A run whose manifest says resnet18 over the weights of a mnistnet.
	wrongArch := filepath.Join(tmp, "wrongarch")
	if err := os.Mkdir(wrongArch, 0o755); err != nil {
		t.Fatal(err)
	}
	var man map[string]any
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	man["model"].(map[string]any)["arch"] = "resnet18"
	mb, _ := json.Marshal(man)
	wb, _ := os.ReadFile(filepath.Join(suspect, run.ModelFile))
	if err := os.WriteFile(filepath.Join(wrongArch, run.ManifestFile), mb, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wrongArch, run.ModelFile), wb, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--run", noModel, "--method", "ft", "--out", out}, []string{"has no model.safetensors"}},
		{[]string{"--run", wrongArch, "--method", "ft", "--out", out}, []string{"resnet18"}},
		{[]string{"--run", other, "--exposed", exposed, "--out", out}, []string{"derived from", "not from the suspect run"}},
		{[]string{"--run", suspect, "--out", out}, []string{"ebyd-rnp", "--exposed"}},
		{[]string{"--run", suspect, "--exposed", suspect, "--out", out}, []string{"--exposed", "no parent"}},
		{[]string{"--run", suspect, "--method", "nope", "--out", out}, []string{"unknown removal method", "ebyd-rnp"}},
		{[]string{"--run", suspect, "--method", "ft", "--param", "bogus=1", "--out", out}, []string{"unknown field", "bogus"}},
		{[]string{"--run", suspect, "--method", "ft", "--params", "{", "--out", out}, []string{"--params", "not JSON"}},
		{[]string{"--run", suspect, "--method", "ft", "--defense-size", "500", "--out", out}, []string{"--defense-size 500", "want 1 to 200"}},
		{[]string{"--run", suspect, "--method", "ft"}, []string{"--out"}},
		{[]string{"--run", suspect, "--exposed", exposed, "--out", exposed, "--force"}, []string{"input run folder"}},
		{[]string{"--run", suspect, "--exposed", exposed, "--trigger", exposed, "--out", out}, []string{"--trigger", "not a detect folder"}},
	} {
		fails(t, append([]string{"remove"}, tc.args...), tc.want...)
		absent(t, out)
	}
}
