package run

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestAttackGrid(t *testing.T) {
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
}
