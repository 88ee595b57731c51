package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"ebyd/run"
)

// tinyBackdoor trains a small BadNets run (target 2) for the detect tests.
func tinyBackdoor(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bd")
	ok(t, "train", "--width", "4", "--train-subset", "500", "--test-subset", "100", "--attack", "badnets", "--target", "2", "--out", dir)
	return dir
}

// fakeExposed copies run folder src to dst with parent as its manifest's
// parent, standing in for a folder ebyd expose wrote.
func fakeExposed(t *testing.T, src, dst, parent string) string {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(src, run.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, run.ModelFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := run.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	m := *f.Manifest
	m.Stage, m.Parent = "expose", parent
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, run.ManifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestDetect(t *testing.T) {
	bd := tinyBackdoor(t)
	t.Run("methods", func(t *testing.T) { detectMethods(t, bd) })
	t.Run("bad inputs", func(t *testing.T) { detectBadInputs(t, bd) })
}

func detectMethods(t *testing.T, bd string) {
	tmp := t.TempDir()
	exp := filepath.Join(tmp, "exposed")
	ok(t, "expose", "--run", bd, "--method", "cul-seed", "--param", "epochs=2", "--defense-size", "100", "--out", exp)

	res := ok(t, "detect", "--run", bd, "--method", "label", "--defense-size", "100")
	if res["on"] != "suspect" || len(res["class_share"].([]any)) != 10 || res["predicted_target"] == nil || res["true_target"] != 2.0 {
		t.Errorf("label on the suspect: %v", res)
	}
	res = ok(t, "detect", "--run", bd, "--exposed", exp, "--method", "model")
	if res["on"] != "exposed" || res["defense_from"] != exp || res["defense_images"] != 100.0 || res["backdoored"] == nil || res["score"] == nil || res["seconds"] == nil {
		t.Errorf("model on the exposed model: %v", res)
	}
	// Label detection on the exposure's own defense set agrees with it.
	exposed := ok(t, "detect", "--run", bd, "--exposed", exp, "--method", "label")
	if f, err := os.ReadFile(filepath.Join(exp, run.CandidatesFile)); err != nil || !json.Valid(f) {
		t.Fatalf("exposed run: %v", err)
	} else {
		var c struct {
			Predicted int `json:"predicted_target"`
		}
		json.Unmarshal(f, &c)
		if exposed["predicted_target"] != float64(c.Predicted) {
			t.Errorf("label on the exposed model: %v, expose predicted %d", exposed["predicted_target"], c.Predicted)
		}
	}

	// Targeted NC from the exposed model's label, with images.
	out := filepath.Join(tmp, "nc")
	res = ok(t, "detect", "--run", bd, "--exposed", exp, "--method", "nc", "--epochs", "1", "--out", out)
	nc := res["nc"].(map[string]any)
	if res["on"] != "suspect" || nc["label_from"] != "exposed" || len(nc["triggers"].([]any)) != run.DefaultCandidates || nc["gap"] == nil || res["backdoored"] == nil {
		t.Errorf("targeted nc: %v", res)
	}
	label := int(res["predicted_target"].(float64))
	for _, name := range []string{run.ManifestFile, run.DetectFile, "mask_" + itoa(label) + ".png", "pattern_" + itoa(label) + ".png", "trigger_" + itoa(label) + ".png"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("detect --out: %v", err)
		}
	}
	if f, err := run.Open(out); err != nil || f.Manifest.Stage != "detect" || f.Manifest.Parent != bd {
		t.Errorf("detect folder manifest: %+v, %v", f, err)
	}

	// The exposure's two most likely targets.
	res = ok(t, "detect", "--run", bd, "--exposed", exp, "--method", "nc", "--epochs", "1", "--candidates", "2")
	nc = res["nc"].(map[string]any)
	if nc["label_from"] != "exposed" || len(nc["triggers"].([]any)) != 2 || len(nc["ranking"].([]any)) != 10 || nc["anomaly"] != nil {
		t.Errorf("nc on two candidates: %v", res)
	}

	// NC over three labels or more decides.
	res = ok(t, "detect", "--run", bd, "--method", "nc", "--labels", "0,1,2", "--epochs", "1", "--defense-size", "64")
	if res["backdoored"] == nil || res["score"] == nil || res["nc"].(map[string]any)["anomaly"] == nil {
		t.Errorf("nc over 3 labels: %v", res)
	}

	for _, m := range []string{"strip", "cd"} {
		args := []string{"detect", "--run", bd, "--method", m, "--samples", "20", "--defense-size", "50"}
		if m == "strip" {
			args = append(args, "--blends", "5")
		} else {
			args = append(args, "--steps", "3")
		}
		res = ok(t, args...)
		s := res["samples"].(map[string]any)
		if auc, _ := res["score"].(float64); s["clean_images"] != 20.0 || !(auc >= 0 && auc <= 1) || s["triggered_images"].(float64) < 10 {
			t.Errorf("%s: %v", m, res)
		}
	}
	res = ok(t, "detect", "--run", bd, "--method", "mmbd", "--steps", "2", "--defense-size", "10")
	if res["mmbd"] == nil || res["backdoored"] == nil {
		t.Errorf("mmbd: %v", res)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func detectBadInputs(t *testing.T, bd string) {
	tmp := t.TempDir()
	clean := filepath.Join(tmp, "clean")
	ok(t, "train", "--width", "4", "--train-subset", "64", "--test-subset", "50", "--out", clean)
	other := fakeExposed(t, clean, filepath.Join(tmp, "other-exposed"), clean)
	orphan := fakeExposed(t, bd, filepath.Join(tmp, "orphan"), "")
	notRun := filepath.Join(tmp, "notes")
	os.MkdirAll(notRun, 0o755)
	os.WriteFile(filepath.Join(notRun, "x.txt"), []byte("x"), 0o644)
	out := filepath.Join(tmp, "out")
	detect := func(extra ...string) []string { return append([]string{"detect", "--run", bd}, extra...) }
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown method", detect("--method", "neural-cleanse"), []string{`unknown detection method "neural-cleanse"`, "nc", "strip"}},
		{"no method", detect(), []string{"method"}},
		{"missing run", []string{"detect", "--run", filepath.Join(tmp, "nothing"), "--method", "label"}, []string{"does not exist"}},
		{"exposed from another run", detect("--method", "label", "--exposed", other), []string{"derived from", clean, "not from the suspect run"}},
		{"exposed without parent", detect("--method", "label", "--exposed", orphan), []string{"not derived from a run"}},
		{"missing exposed", detect("--method", "label", "--exposed", filepath.Join(tmp, "none")), []string{"--exposed", "does not exist"}},
		{"labels for label", detect("--method", "label", "--labels", "1"), []string{"--labels is for nc"}},
		{"label out of range", detect("--method", "nc", "--labels", "10"), []string{"label 10", "0..9"}},
		{"label twice", detect("--method", "nc", "--labels", "1,1", "--epochs", "1", "--defense-size", "10"), []string{"label 1 given twice"}},
		{"epochs for strip", detect("--method", "strip", "--epochs", "3"), []string{"--epochs is for --method nc"}},
		{"on exposed without exposed", detect("--method", "mmbd", "--on", "exposed"), []string{"--on exposed needs --exposed"}},
		{"bad on", detect("--method", "mmbd", "--on", "both"), []string{`--on "both"`}},
		{"candidates without exposed", detect("--method", "nc", "--candidates", "3"), []string{"--candidates is for nc with --exposed"}},
		{"strip on a clean run", []string{"detect", "--run", clean, "--method", "strip"}, []string{"clean run"}},
		{"defense set too big", detect("--method", "label", "--defense-size", "70000"), []string{"defense set of 70000", "1 to 500"}},
		{"zero nc epochs", detect("--method", "nc", "--epochs", "0", "--labels", "1", "--defense-size", "10"), []string{"0 epochs"}},
		{"out not a run folder", detect("--method", "label", "--out", notRun), []string{"not a run folder"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fails(t, c.args, c.want...)
		})
	}
	fails(t, detect("--method", "nc", "--labels", "10", "--out", out), "label 10")
	absent(t, out)
}

// A derived folder is recognised from another working directory and after
// both folders moved: by the digest of the parent's model.
func TestParentAfterMove(t *testing.T) {
	suspect, exposed := tinyExposed(t)
	moved := t.TempDir()
	s2, e2 := filepath.Join(moved, "s"), filepath.Join(moved, "e")
	if err := os.Rename(suspect, s2); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(exposed, e2); err != nil {
		t.Fatal(err)
	}
	ok(t, "detect", "--run", s2, "--exposed", e2, "--method", "label", "-q")
}
