package main

import (
	"os"
	"path/filepath"
	"testing"

	"ebyd/run"
)

// A tiny chain: 500 training images, a width-4 mnistnet, short stages.
const tinyPipeline = `
train:
  width: 4
  train_subset: 500
  test_subset: 100
  attack: {name: badnets, target: 2}
defense_size: 100
expose:
  method: cul
  params: {epochs: 2, probes: [noise, shift]}
remove:
  method: ebyd-rnp
  params: {mask_epochs: 1}
remove_always: true
`

func TestPipeline(t *testing.T) {
	tmp := t.TempDir()
	cfg := filepath.Join(tmp, "p.yaml")
	if err := os.WriteFile(cfg, []byte(tinyPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "p")
	res := ok(t, "pipeline", "--config", cfg, "--out", out)
	if res["attack"] != "badnets" || res["true_target"] != 2.0 || res["removed"] != true || res["asr"] == nil || res["clean_acc"] == nil ||
		res["p_value"] == nil || res["norm_ratio"] == nil || len(res["stages"].([]any)) != 4 || res["reused_suspect"] != false {
		t.Errorf("pipeline: %v", res)
	}
	for _, d := range []string{run.PipelineSuspect, run.ChainExposed, run.ChainDetect, run.PipelineRemoved} {
		if f, err := run.Open(filepath.Join(out, d)); err != nil {
			t.Error(err)
		} else if d != run.PipelineSuspect && f.Manifest.Parent != filepath.Join(out, run.PipelineSuspect) {
			t.Errorf("%s: parent %q", d, f.Manifest.Parent)
		}
	}
	if _, err := os.Stat(res["trigger_image"].(string)); err != nil {
		t.Error(err)
	}
	// Run again: the suspect of the same recipe is reused.
	res = ok(t, "pipeline", "--config", cfg, "--out", out)
	if res["reused_suspect"] != true {
		t.Errorf("second pipeline retrained the suspect: %v", res)
	}

	// The gap decision: Neural Cleanse over the exposure's candidates.
	gap := filepath.Join(tmp, "gap.yaml")
	os.WriteFile(gap, []byte(tinyPipeline+"decision: gap\n"), 0o644)
	res = ok(t, "pipeline", "--config", gap, "--out", out)
	if len(res["candidates"].([]any)) != run.DefaultCandidates || res["p_value"] != nil {
		t.Errorf("gap pipeline: %v", res)
	}

	bad := filepath.Join(tmp, "bad.yaml")
	os.WriteFile(bad, []byte("trian: {}\n"), 0o644)
	fails(t, []string{"pipeline", "--config", bad, "--out", filepath.Join(tmp, "b")}, "bad.yaml", `unknown field "trian"`)
	fails(t, []string{"pipeline", "--config", filepath.Join(tmp, "missing.yaml"), "--out", filepath.Join(tmp, "b")}, "missing.yaml")
	os.WriteFile(bad, []byte("train: {attack: {name: nope}}\n"), 0o644)
	fails(t, []string{"pipeline", "--config", bad, "--out", filepath.Join(tmp, "b")}, `unknown attack "nope"`)
	if _, err := os.Stat(filepath.Join(tmp, "b")); err == nil {
		t.Error("a failed pipeline left its folder behind")
	}
}
