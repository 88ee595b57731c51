package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ebyd/run"
)

func TestBenchDetection(t *testing.T) {
	bd := tinyBackdoor(t)
	clean := filepath.Join(t.TempDir(), "clean")
	ok(t, "train", "--width", "4", "--train-subset", "500", "--test-subset", "100", "--out", clean)
	out := filepath.Join(t.TempDir(), "bench")
	doc := filepath.Join(t.TempDir(), "docs", "detection.md")
	if err := os.MkdirAll(filepath.Dir(doc), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doc, []byte("# Detection\n\nhand-written text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"bench", "detection", "--out", out, "--doc", doc, "--defense-size", "100", "--nc-epochs", "1", "--samples", "10",
		"--expose-param", "epochs=2", "--expose-param", `probes=["noise","shift"]`, bd, clean}
	res := ok(t, args...)
	rows := res["rows"].([]any)
	if len(rows) != 2 {
		t.Fatalf("rows: %v", res)
	}
	r := rows[0].(map[string]any)
	if r["attack"] != "badnets" || r["target"] != 2.0 || r["strip"] == nil || r["cd"] == nil || len(r["ranking"].([]any)) != 10 {
		t.Errorf("backdoored row: %v", r)
	}
	if g := r["ebyd"].(map[string]any); len(g["labels"].([]any)) != run.DefaultCandidates {
		t.Errorf("targeted nc labels: %v", g)
	}
	if c := rows[1].(map[string]any); c["attack"] != nil || c["strip"] != nil {
		t.Errorf("clean row: %v", c)
	}
	text, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hand-written text", "#### Label detection", "#### Model detection", "AUROC", "img/detection/bd-true.png", "#### Sample detection"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("doc lacks %q:\n%s", want, text)
		}
	}
	for _, p := range []string{"bd-true.png", "bd-trigger.png", "bd-mask.png"} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(doc), "img", "detection", p)); err != nil {
			t.Error(err)
		}
	}
	// A second run resumes: the rows come back from the folder as they were.
	var before run.DetectBenchResult
	b, _ := os.ReadFile(filepath.Join(out, run.DetectBenchFile))
	json.Unmarshal(b, &before)
	res = ok(t, args...)
	if got := res["rows"].([]any)[0].(map[string]any)["expose_seconds"]; got != before.Rows[0].ExposeSeconds {
		t.Errorf("resumed benchmark reran the suspect: expose seconds %v, were %v", got, before.Rows[0].ExposeSeconds)
	}

	fails(t, []string{"bench", "detection", "--out", filepath.Join(t.TempDir(), "b"), bd, bd}, "same folder name")
	fails(t, []string{"bench", "detection", "--out", filepath.Join(t.TempDir(), "b")}, "requires at least 1 arg")
	fails(t, []string{"bench", "detection", "--out", filepath.Join(t.TempDir(), "b"), out}, "no "+run.ManifestFile)
}
