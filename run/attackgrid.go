package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"ebyd/attack"
	"ebyd/internal/atomicfile"
)

// GridEntry is one backdoored run of an attack grid.
type GridEntry struct {
	Label  string       `json:"label"` // names the run folder and the table row
	Attack AttackConfig `json:"attack"`
	// Epochs, when positive, overrides the grid's recipe for this run (an
	// attack that takes longer to learn); the grid then also trains a clean
	// model for that many epochs to compare with.
	Epochs int `json:"epochs,omitempty"`
}

// DefaultAttackGrid is every registered attack that needs no user image,
// all2one with target 0 (clean-label for cl), plus runs that exercise a
// non-zero target, all2all and clean-label poisoning, and a one-pixel
// trigger off the centre.
func DefaultAttackGrid() []GridEntry {
	var g []GridEntry
	for _, n := range attack.Names() {
		if n == "patch" { // needs a user pattern
			continue
		}
		g = append(g, GridEntry{Label: n, Attack: AttackConfig{Name: n}})
	}
	return append(g,
		GridEntry{Label: "badnets-t7", Attack: AttackConfig{Name: "badnets", Target: 7}},
		GridEntry{Label: "blend-t3", Attack: AttackConfig{Name: "blend", Target: 3}},
		GridEntry{Label: "badnets-all2all", Attack: AttackConfig{Name: "badnets", Mode: attack.All2All}},
		GridEntry{Label: "sig-clean-label", Attack: AttackConfig{Name: "sig", Mode: attack.CleanLabel}},
		// The centre pixel is often already white on digits.
		GridEntry{Label: "onepixel-r2c2", Attack: AttackConfig{Name: "onepixel", Params: json.RawMessage(`{"row":2,"col":2}`)}},
	)
}

// GridFile is the summary an attack grid writes into its folder.
const GridFile = "grid.json"

// AttackGridConfig trains a clean model and one backdoored model per entry,
// all with the same training recipe.
type AttackGridConfig struct {
	Train   TrainConfig `json:"train"` // its Attack is ignored
	Entries []GridEntry `json:"entries"`
	// Only, when not empty, keeps the entries with these labels.
	Only []string `json:"only,omitempty"`
	// EpochsFor overrides the epochs of every entry of an attack, by name.
	EpochsFor map[string]int `json:"epochs_for,omitempty"`
}

// GridRow is the outcome of one run of a grid.
type GridRow struct {
	Label    string      `json:"label"`
	Epochs   int         `json:"epochs"`
	Attack   string      `json:"attack,omitempty"` // "" for the clean model
	Mode     attack.Mode `json:"mode,omitempty"`
	Target   int         `json:"target"`
	Rate     float64     `json:"rate,omitempty"`
	Poisoned int         `json:"poisoned,omitempty"`
	CleanAcc float64     `json:"clean_acc"`
	ASR      *float64    `json:"asr,omitempty"`
	Seconds  float64     `json:"seconds"`
	Dir      string      `json:"dir"` // relative to the grid folder
}

// AttackGridResult is GridFile's content.
type AttackGridResult struct {
	Train   TrainConfig `json:"train"`
	Dataset DatasetInfo `json:"dataset"`
	Rows    []GridRow   `json:"rows"` // the clean model first
	Engine  Engine      `json:"engine"`
	Created string      `json:"created"`
}

// AttackGrid trains the grid into run folders under opts.Out (created when
// missing), one per entry plus "clean", and writes GridFile there. A run
// folder that already exists is reused, so an interrupted grid resumes
// where it stopped; opts.Force retrains everything.
func AttackGrid(ctx context.Context, cfg AttackGridConfig, opts Options) (*AttackGridResult, error) {
	if opts.Out == "" {
		return nil, errors.New("no output folder given (--out)")
	}
	entries := slices.Clone(cfg.Entries)
	if len(entries) == 0 {
		entries = DefaultAttackGrid()
	}
	if len(cfg.Only) > 0 {
		var keep []GridEntry
		for _, e := range entries {
			if slices.Contains(cfg.Only, e.Label) {
				keep = append(keep, e)
			}
		}
		for _, l := range cfg.Only {
			if !slices.ContainsFunc(keep, func(e GridEntry) bool { return e.Label == l }) {
				return nil, fmt.Errorf("no grid entry %q", l)
			}
		}
		entries = keep
	}
	for name, n := range cfg.EpochsFor {
		if !knownAttack(name) || n < 1 {
			return nil, fmt.Errorf("epochs for %s: %d; want a known attack and at least one epoch", name, n)
		}
		for i := range entries {
			if entries[i].Attack.Name == name {
				entries[i].Epochs = n
			}
		}
	}
	base := cfg.Train
	base.Attack = nil
	if err := base.resolve(); err != nil {
		return nil, err
	}
	// Check every entry before the first hour of training.
	for _, e := range entries {
		c := base
		a := e.Attack
		c.Attack = &a
		if err := c.resolve(); err != nil {
			return nil, fmt.Errorf("grid entry %s: %w", e.Label, err)
		}
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	res := &AttackGridResult{Train: base, Engine: CurrentEngine(), Created: time.Now().UTC().Format(time.RFC3339)}
	runs := []GridEntry{{Label: "clean"}}
	for _, e := range entries {
		if e.Epochs > 0 && e.Epochs != base.Epochs && !slices.ContainsFunc(runs, func(r GridEntry) bool { return r.Epochs == e.Epochs }) {
			runs = append(runs, GridEntry{Label: fmt.Sprintf("clean-%dep", e.Epochs), Epochs: e.Epochs})
		}
	}
	runs = append(runs, entries...)
	for i, e := range runs {
		c := base
		if e.Epochs > 0 {
			c.Epochs = e.Epochs
		}
		if e.Attack.Name != "" {
			a := e.Attack
			c.Attack = &a
		}
		dir := filepath.Join(opts.Out, e.Label)
		f, err := Open(dir)
		if err == nil && !sameRecipe(f, c) {
			err = fmt.Errorf("%s was trained with another recipe", dir)
		}
		if err != nil || opts.Force {
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "grid %d/%d: %s\n", i+1, len(runs), e.Label)
			}
			o := opts
			o.Out, o.Force = dir, true
			r, err := Train(ctx, c, o)
			if err != nil {
				return nil, fmt.Errorf("grid entry %s: %w", e.Label, err)
			}
			f = &Folder{Dir: dir, Manifest: r.Manifest}
		}
		row, err := gridRow(f, e.Label)
		if err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, row)
		res.Dataset = f.Manifest.Dataset
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	return res, atomicfile.WriteFile(filepath.Join(opts.Out, GridFile), append(b, '\n'))
}

// sameRecipe reports whether the run f was trained as c says, so that a
// grid reuses only runs of its own recipe.
func sameRecipe(f *Folder, c TrainConfig) bool {
	var got TrainConfig
	if f.Manifest.Stage != "train" || json.Unmarshal(f.Manifest.Config, &got) != nil {
		return false
	}
	if err := c.resolve(); err != nil {
		return false
	}
	if (got.Attack == nil) != (c.Attack == nil) {
		return false
	}
	if a, b := got.Attack, c.Attack; a != nil {
		if a.Name != b.Name || a.Target != b.Target || (b.Mode != "" && a.Mode != b.Mode) || (b.Rate != 0 && a.Rate != b.Rate) {
			return false
		}
	}
	got.Attack, c.Attack = nil, nil
	x, _ := json.Marshal(got)
	y, _ := json.Marshal(c)
	return string(x) == string(y)
}

func gridRow(f *Folder, label string) (GridRow, error) {
	m := f.Manifest
	row := GridRow{Label: label, CleanAcc: m.Metrics["clean_acc"], Seconds: m.Seconds["total"], Dir: label}
	var c TrainConfig
	if err := json.Unmarshal(m.Config, &c); err != nil {
		return row, fmt.Errorf("%s: %w", f.Dir, err)
	}
	row.Epochs = c.Epochs
	if a := c.Attack; a != nil {
		asr := m.Metrics["asr"]
		row.Attack, row.Mode, row.Target, row.Rate, row.ASR = a.Name, a.Mode, a.Target, a.Rate, &asr
		row.Poisoned = int(m.Metrics["poisoned"])
	}
	return row, nil
}
