package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestScan(t *testing.T) {
	tmp := t.TempDir()
	suspect := filepath.Join(tmp, "bad")
	ok(t, "train", "-q", "--attack", "badnets", "--target", "3", "--poison-rate", "0.2", "--train-subset", "3000",
		"--test-subset", "500", "--width", "8", "--epochs", "3", "--out", suspect)
	out := filepath.Join(tmp, "scan")
	res := ok(t, "scan", "-q", "--run", suspect, "--defense-size", "200", "--out", out)
	if res["backdoored"] != true || res["target"] != 3.0 || res["true_target"] != 3.0 {
		t.Errorf("scan of a BadNets model (target 3): %v", res)
	}
	for _, k := range []string{"score", "seconds", "p_value", "norm_ratio"} {
		if _, ok := res[k].(float64); !ok {
			t.Errorf("no %s in %v", k, res)
		}
	}
	if _, err := os.Stat(res["trigger"].(string)); err != nil {
		t.Error(err)
	}
	// A finished scan's folder is replaced with --force, refused without.
	fails(t, []string{"scan", "-q", "--run", suspect, "--out", out}, "exists")
	res = ok(t, "scan", "-q", "--run", suspect, "--defense-size", "100", "--out", out, "--force")

	// Weights are imported first, as ebyd import reads them.
	res = ok(t, "scan", "-q", "--weights", ptFixture, "--arch", "mnistnet", "--test-subset", "100",
		"--defense-size", "100", "--out", filepath.Join(tmp, "pt"))
	if _, ok := res["backdoored"].(bool); !ok {
		t.Errorf("scan of weights: %v", res)
	}
	if _, err := os.Stat(filepath.Join(tmp, "pt", "suspect", "run.json")); err != nil {
		t.Error(err)
	}

	fails(t, []string{"scan", "--out", filepath.Join(tmp, "x")}, "--weights", "--run")
	fails(t, []string{"scan", "--run", suspect, "--weights", ptFixture, "--out", filepath.Join(tmp, "x")}, "not both")
	fails(t, []string{"scan", "--weights", ptFixture, "--out", filepath.Join(tmp, "x")}, "--arch")
	fails(t, []string{"scan", "--weights", filepath.Join(tmp, "missing.pt"), "--arch", "mnistnet", "--out", filepath.Join(tmp, "x")}, "missing.pt")
	if _, err := os.Stat(filepath.Join(tmp, "x")); err == nil {
		t.Error("a failed scan left its folder")
	}
}
