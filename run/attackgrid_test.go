package run

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAttackGridAndDoc(t *testing.T) {
	tmp := t.TempDir()
	grid := filepath.Join(tmp, "grid")
	cfg := AttackGridConfig{Train: smallAttackConfig(nil), Only: []string{"badnets-t7"}}
	res, err := AttackGrid(context.Background(), cfg, Options{Out: grid})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || res.Rows[0].ASR != nil || res.Rows[1].ASR == nil || res.Rows[1].Target != 7 || res.Train.LR == 0 {
		t.Fatalf("rows %+v, train %+v", res.Rows, res.Train)
	}
	// A second call reuses the runs.
	st, _ := os.Stat(filepath.Join(grid, "clean", ManifestFile))
	again, err := AttackGrid(context.Background(), cfg, Options{Out: grid})
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(filepath.Join(grid, "clean", ManifestFile))
	if !st.ModTime().Equal(st2.ModTime()) || *again.Rows[1].ASR != *res.Rows[1].ASR {
		t.Error("the grid retrained an existing run")
	}

	doc := filepath.Join(tmp, "docs", "attacks.md")
	if err := os.MkdirAll(filepath.Dir(doc), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doc, []byte("# Attacks\n\nNotes kept.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteAttackDoc(AttackDocConfig{Grids: []string{grid}, Doc: doc}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(doc)
	if !strings.Contains(string(b), "Notes kept.") || !strings.Contains(string(b), "| badnets-t7 | 1 | all2one | 7 |") {
		t.Errorf("document:\n%s", b)
	}
	for _, name := range []string{"mnist-mnistnet-clean.png", "mnist-mnistnet-badnets-t7.png", "mnist-mnistnet-badnets-t7-diff.png"} {
		if _, err := os.Stat(filepath.Join(tmp, "docs", "img", "attacks", name)); err != nil {
			t.Error(err)
		}
	}

	// An attack trained longer gets a clean model of its own recipe.
	cfg.EpochsFor = map[string]int{"badnets": 2}
	cfg.Train.TrainSubset = 500
	longer, err := AttackGrid(context.Background(), cfg, Options{Out: filepath.Join(tmp, "grid2")})
	if err != nil {
		t.Fatal(err)
	}
	if len(longer.Rows) != 3 || longer.Rows[1].Label != "clean-2ep" || longer.Rows[1].Epochs != 2 || longer.Rows[2].Epochs != 2 {
		t.Errorf("rows %+v", longer.Rows)
	}

	if _, err := AttackGrid(context.Background(), AttackGridConfig{Train: cfg.Train, Only: []string{"nosuch"}}, Options{Out: grid}); err == nil {
		t.Error("an unknown grid entry was accepted")
	}
	if err := WriteAttackDoc(AttackDocConfig{Grids: []string{tmp}, Doc: doc}); err == nil || !strings.Contains(err.Error(), "run the grid first") {
		t.Errorf("a folder without a grid: %v", err)
	}
}
