package report

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestScaledAndDiff(t *testing.T) {
	p := Picture{H: 1, W: 2, C: 1, Pix: []uint8{10, 200}}
	s := p.Scaled(2)
	if !slices.Equal(s.Pix, []uint8{10, 10, 200, 200, 10, 10, 200, 200}) || s.W != 4 || s.H != 2 {
		t.Errorf("scaled %v", s)
	}
	d := Diff(p, Picture{H: 1, W: 2, C: 1, Pix: []uint8{20, 200}})
	if !slices.Equal(d.Pix, []uint8{255, 0}) {
		t.Errorf("diff %v, want the largest change white", d.Pix)
	}
	if _, err := (Picture{H: 2, W: 2, C: 3, Pix: make([]uint8, 5)}).Image(); err == nil {
		t.Error("a short picture converted")
	}
}

func TestSplice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.md")
	if err := os.WriteFile(path, []byte("# Title\n\nHand-written.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"first", "second"} {
		if err := Splice(path, "table", Table([]string{"a"}, [][]string{{body}})); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(must(os.ReadFile(path)), "\nMore notes.\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	doc := string(must(os.ReadFile(path)))
	if strings.Contains(doc, "first") || !strings.Contains(doc, "| second |") || strings.Count(doc, "BEGIN GENERATED") != 1 ||
		!strings.HasPrefix(doc, "# Title\n\nHand-written.\n") || strings.Count(doc, "More notes.") != 2 {
		t.Errorf("spliced document:\n%s", doc)
	}
	if err := os.WriteFile(path, []byte("<!-- BEGIN GENERATED: table -->\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Splice(path, "table", "x"); err == nil {
		t.Error("broken markers accepted")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
