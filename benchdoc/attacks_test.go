package benchdoc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ebyd/run"
)

func TestAttacks(t *testing.T) {
	tmp := t.TempDir()
	grid := filepath.Join(tmp, "grid")
	tc := run.DefaultTrainConfig()
	tc.Width, tc.TrainSubset, tc.TestSubset = 8, 2000, 500
	tc.Attack = &run.AttackConfig{Name: "badnets", Target: 7, Rate: run.DefaultPoisonRate}
	if _, err := run.AttackGrid(context.Background(), run.AttackGridConfig{Train: tc, Only: []string{"badnets-t7"}}, run.Options{Out: grid}); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(tmp, "docs", "attacks.md")
	if err := os.MkdirAll(filepath.Dir(doc), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doc, []byte("# Attacks\n\nNotes kept.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (Attacks{Grids: []string{grid}, Doc: doc}).Write(); err != nil {
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

	if err := (Attacks{Grids: []string{tmp}, Doc: doc}).Write(); err == nil || !strings.Contains(err.Error(), "run the benchmark first") {
		t.Errorf("a folder without a grid: %v", err)
	}
}
