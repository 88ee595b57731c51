package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"ebyd/attack"
	"ebyd/internal/atomicfile"
	"ebyd/report"
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

// AttackDocConfig says which grids go into the attacks document.
type AttackDocConfig struct {
	Grids []string // grid folders written by AttackGrid
	Doc   string   // the Markdown file; its generated section is replaced
	// Image is the index of the test image every trigger is shown on.
	Image int
}

// WriteAttackDoc writes the tables of the grids and a picture of every
// trigger on one test image into the document's generated section; the
// pictures go to img/attacks/ beside the document.
func WriteAttackDoc(cfg AttackDocConfig) error {
	docDir := filepath.Dir(cfg.Doc)
	imgDir := filepath.Join(docDir, "img", "attacks")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	for _, g := range cfg.Grids {
		raw, err := os.ReadFile(filepath.Join(g, GridFile))
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s holds no %s; run the grid first (ebyd bench attacks --out %s)", g, GridFile, g)
		}
		if err != nil {
			return err
		}
		var res AttackGridResult
		if err := json.Unmarshal(raw, &res); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(g, GridFile), err)
		}
		if err := attackSection(&b, g, &res, imgDir, docDir, cfg.Image); err != nil {
			return err
		}
	}
	return report.Splice(cfg.Doc, "attack tables", b.String())
}

func attackSection(b *strings.Builder, grid string, res *AttackGridResult, imgDir, docDir string, image int) error {
	t, d := res.Train, res.Dataset
	clean := res.Rows[0]
	// ΔCA compares with the clean model trained for the same epochs.
	cleanCA := map[int]float64{}
	for _, r := range res.Rows {
		if r.ASR == nil {
			cleanCA[r.Epochs] = r.CleanAcc
		}
	}
	fmt.Fprintf(b, "### %s, %s\n\n", d.Name, t.Model)
	train := fmt.Sprintf("%d of %d", d.Train.Used, d.Train.Total)
	fmt.Fprintf(b, "Training: %s images, %d epoch(s) unless the table says otherwise, %s lr %g (%s), batch %d, width %d, seed %d; test: %d images. "+
		"Engine: %s, %s convolutions, GOMAXPROCS %d. Clean model: CA %s.\n\n",
		train, t.Epochs, t.Optimizer, t.LR, t.Schedule, t.BatchSize, t.Width, t.Seed, d.Test.Used,
		res.Engine.BLAS, res.Engine.Conv, res.Engine.GOMAXPROCS, pct(clean.CleanAcc))

	_, fullTest, err := loadData(d.Name, d.Dir, d.Mean, d.Std)
	if err != nil {
		return err
	}
	if image < 0 || image >= fullTest.N {
		return fmt.Errorf("test image %d: the test split has %d", image, fullTest.N)
	}
	orig := report.Picture{Pix: fullTest.Image(image), H: d.Height, W: d.Width, C: d.Channels}
	prefix := d.Name + "-" + t.Model
	origPath := filepath.Join(imgDir, prefix+"-clean.png")
	if err := orig.Scaled(4).WritePNG(origPath); err != nil {
		return err
	}
	var rows [][]string
	for _, r := range res.Rows {
		row := []string{r.Label, fmt.Sprint(r.Epochs), "-", "-", "-", pct(r.CleanAcc), "-", "-", fmt.Sprintf("%.0f", r.Seconds), img(docDir, origPath), ""}
		if r.ASR != nil {
			f, err := Open(filepath.Join(grid, r.Dir))
			if err != nil {
				return err
			}
			_, trig, err := f.Attack()
			if err != nil {
				return err
			}
			p := orig
			p.Pix = slices.Clone(orig.Pix)
			trig.Apply(p.Pix)
			tp := filepath.Join(imgDir, prefix+"-"+r.Label+".png")
			dp := filepath.Join(imgDir, prefix+"-"+r.Label+"-diff.png")
			if err := p.Scaled(4).WritePNG(tp); err != nil {
				return err
			}
			if err := report.Diff(p, orig).Scaled(4).WritePNG(dp); err != nil {
				return err
			}
			target := fmt.Sprint(r.Target)
			if r.Mode == attack.All2All {
				target = "y+1"
			}
			row = []string{r.Label, fmt.Sprint(r.Epochs), string(r.Mode), target, poisoned(r),
				pct(r.CleanAcc), fmt.Sprintf("%+.2f", 100*(r.CleanAcc-cleanCA[r.Epochs])), pct(*r.ASR),
				fmt.Sprintf("%.0f", r.Seconds), img(docDir, tp), img(docDir, dp)}
		}
		rows = append(rows, row)
	}
	b.WriteString(report.Table([]string{"run", "epochs", "mode", "target", "poison rate (images)", "CA", "ΔCA (points)", "ASR", "seconds", "test image " + fmt.Sprint(image), "change (stretched)"}, rows))
	b.WriteString("\n")
	return nil
}

// poisoned describes a row's poisoning: the rate and how many training
// images it poisoned (a learned trigger poisons each batch as it goes).
func poisoned(r GridRow) string {
	if r.Poisoned == 0 {
		return fmt.Sprintf("%.4g (per batch)", r.Rate)
	}
	return fmt.Sprintf("%.4g (%d)", r.Rate, r.Poisoned)
}

func img(docDir, path string) string {
	rel, err := filepath.Rel(docDir, path)
	if err != nil {
		rel = path
	}
	return fmt.Sprintf("![](%s)", filepath.ToSlash(rel))
}

func pct(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }
