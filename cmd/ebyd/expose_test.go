package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ebyd/run"
)

// tinyExposeSuspect trains a small backdoored run for the expose tests.
func tinyExposeSuspect(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "badnets")
	ok(t, "train", "--attack", "badnets", "--target", "3", "--width", "2", "--train-subset", "200",
		"--test-subset", "100", "--batch-size", "32", "--seed", "2", "--out", dir, "-q")
	return dir
}

func TestExpose(t *testing.T) {
	suspect := tinyExposeSuspect(t)
	out := filepath.Join(t.TempDir(), "exposed")
	obj := ok(t, "expose", "--run", suspect, "--method", "cul-seed", "--param", "epochs=2", "--param", "lr=0.001",
		"--defense-size", "64", "--seed", "5", "--with-asr", "--test-subset", "50", "--out", out)
	share, _ := obj["class_share"].([]any)
	cands, _ := obj["candidates"].([]any)
	if _, isNum := obj["predicted_target"].(float64); !isNum || len(share) != 10 || len(cands) != 10 ||
		!(obj["seconds"].(float64) > 0) || obj["rows"] != 2.0 || obj["asr"] == nil || obj["defense_size"] != 64.0 {
		t.Fatalf("expose JSON %v", obj)
	}
	for _, name := range []string{run.ModelFile, run.ManifestFile, run.TraceFile, run.DefenseFile, run.CandidatesFile} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("the expose folder lacks %s: %v", name, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, run.TraceFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "epoch,defense_acc,loss,lr,share_0,") || !strings.HasSuffix(lines[0], "share_9,asr") {
		t.Fatalf("trace.csv:\n%s", b)
	}
	f, err := run.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	m := f.Manifest
	var cfg run.ExposeConfig
	if err := json.Unmarshal(m.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	var params map[string]any
	_ = json.Unmarshal(cfg.Params, &params)
	if m.Stage != "expose" || m.Parent != suspect || m.Model.Arch != "mnistnet" || cfg.Method != "cul-seed" ||
		params["epochs"] != 2.0 || params["weight_decay"] != 5e-4 || m.Metrics["predicted_target"] != obj["predicted_target"] {
		t.Fatalf("manifest %+v, config %+v, params %v", m, cfg, params)
	}
	// The exposed model loads; the defense set is redrawn exactly.
	if _, err := f.Model(); err != nil {
		t.Fatal(err)
	}
	def, err := f.Defense()
	if err != nil {
		t.Fatal(err)
	}
	var saved struct{ Indices []int }
	b, _ = os.ReadFile(filepath.Join(out, run.DefenseFile))
	if err := json.Unmarshal(b, &saved); err != nil || !slices.Equal(saved.Indices, def.Indices()) || def.Len() != 64 {
		t.Fatalf("defense_indices.json %v (%v), redrawn %v", saved.Indices, err, def.Indices())
	}

	// The default method, with the human table.
	stdout, _, code := ebyd(t, "expose", "--run", suspect, "--param", "epochs=1", "--defense-size", "64", "--out", filepath.Join(t.TempDir(), "cul"), "-q")
	if code != 0 || !strings.Contains(stdout, "predicted target") || !strings.Contains(stdout, "cul") {
		t.Fatalf("expose with the default method: exit %d\n%s", code, stdout)
	}
}

func TestExposeBadInputs(t *testing.T) {
	suspect := tinyExposeSuspect(t)
	clean := importPT(t)
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
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--run", suspect, "--method", "nope", "--out", out}, []string{"unknown exposure method", "cul-seed"}},
		{[]string{"--run", noModel, "--out", out}, []string{"has no model.safetensors"}},
		{[]string{"--run", suspect, "--defense-size", "500", "--out", out}, []string{"--defense-size 500", "want 1 to 200"}},
		{[]string{"--run", suspect, "--defense-size", "-3", "--out", out}, []string{"--defense-size -3"}},
		{[]string{"--run", clean, "--with-asr", "--out", out}, []string{"--with-asr", "no backdoor"}},
		{[]string{"--run", suspect, "--param", "lr", "--out", out}, []string{"--param", "NAME=VALUE"}},
		{[]string{"--run", suspect, "--param", "bogus=1", "--out", out}, []string{"unknown field", "bogus"}},
		{[]string{"--run", suspect, "--param", "lr=-1", "--out", out}, []string{"lr -1"}},
		{[]string{"--run", filepath.Join(tmp, "missing"), "--out", out}, []string{"does not exist"}},
		{[]string{"--run", suspect}, []string{"--out"}},
		{[]string{"--out", out}, []string{"required flag", "run"}},
		{[]string{"--run", suspect, "--out", suspect}, []string{"already exists"}},
		{[]string{"--run", suspect, "--out", suspect, "--force"}, []string{"the suspect run itself"}},
		{[]string{"--run", suspect, "--out", filepath.Join(tmp, "no", "such", "dir")}, []string{"parent directory"}},
	} {
		fails(t, append([]string{"expose"}, tc.args...), tc.want...)
		absent(t, out)
	}
}
