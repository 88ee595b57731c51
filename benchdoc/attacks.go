package benchdoc

import (
	"ebyd/attack"
	"ebyd/report"
	"ebyd/run"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Attacks says which grids go into the attacks document.
type Attacks struct {
	Grids []string // grid folders written by AttackGrid
	Doc   string   // the Markdown file; its generated section is replaced
	// Image is the index of the test image every trigger is shown on.
	Image int
}

// Write writes the tables of the grids and a picture of every
// trigger on one test image into the document's generated section; the
// pictures go to img/attacks/ beside the document.
func (cfg Attacks) Write() error {
	docDir := filepath.Dir(cfg.Doc)
	imgDir := filepath.Join(docDir, "img", "attacks")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	for _, g := range cfg.Grids {
		res, err := readResult[run.AttackGridResult](g, run.GridFile, "bench attacks")
		if err != nil {
			return err
		}
		if err := attackSection(&b, g, res, imgDir, docDir, cfg.Image); err != nil {
			return err
		}
	}
	return report.Splice(cfg.Doc, "attack tables", b.String())
}

func attackSection(b *strings.Builder, grid string, res *run.AttackGridResult, imgDir, docDir string, image int) error {
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

	_, fullTest, err := d.Load()
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
			f, err := run.Open(filepath.Join(grid, r.Dir))
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
func poisoned(r run.GridRow) string {
	if r.Poisoned == 0 {
		return fmt.Sprintf("%.4g (per batch)", r.Rate)
	}
	return fmt.Sprintf("%.4g (%d)", r.Rate, r.Poisoned)
}
