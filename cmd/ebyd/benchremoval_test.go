package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchRemoval(t *testing.T) {
	bd := tinyBackdoor(t)
	out := filepath.Join(t.TempDir(), "bench")
	doc := filepath.Join(t.TempDir(), "removal.md")
	args := []string{"bench", "removal", "--out", out, "--doc", doc, "--defense-size", "100", "--methods", "ebyd-rnp,ft",
		"--params", `ebyd-rnp={"mask_epochs":1,"finetune":{"epochs":1}}`, "--params", `ft={"epochs":1}`, bd}
	res := ok(t, args...)
	rows := res["rows"].([]any)
	if len(rows) != 1 {
		t.Fatalf("rows: %v", res)
	}
	r := rows[0].(map[string]any)
	if r["attack"] != "badnets" || len(r["results"].([]any)) != 2 || r["detected_target"] == nil {
		t.Errorf("row: %v", r)
	}
	for _, d := range []string{"exposed", "detect", "remove-ebyd-rnp", "remove-ft"} {
		if _, err := os.Stat(filepath.Join(out, "bd", d, "run.json")); err != nil {
			t.Error(err)
		}
	}
	text, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#### ASR after removal", "#### CA drop", "| ebyd-rnp |", "| ft |", "**"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("doc lacks %q:\n%s", want, text)
		}
	}
	clean := filepath.Join(t.TempDir(), "clean")
	ok(t, "train", "--width", "4", "--train-subset", "200", "--test-subset", "50", "--out", clean)
	fails(t, []string{"bench", "removal", "--out", filepath.Join(t.TempDir(), "b"), clean}, "clean run")
	fails(t, []string{"bench", "removal", "--out", filepath.Join(t.TempDir(), "b"), "--methods", "nope", bd}, "unknown removal method")
	fails(t, []string{"bench", "removal", "--out", filepath.Join(t.TempDir(), "b"), "--methods", "ft", "--params", `anp={"iterations":5}`, bd}, "anp")
}
