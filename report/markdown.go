package report

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"ebyd/internal/atomicfile"
)

// Table writes a Markdown table: a header row and rows of cells. Pipes in
// cells are escaped.
func Table(header []string, rows [][]string) string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
		}
		b.WriteString("\n")
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	return b.String()
}

// The markers around the generated part of a committed document.
const (
	BeginGenerated = "<!-- BEGIN GENERATED: %s -->"
	EndGenerated   = "<!-- END GENERATED: %s -->"
)

// Splice writes body into the document at path between the markers of the
// named section, keeping the hand-written text around them, so that a
// document can be regenerated without losing its explanations. A missing
// document is created holding just the section; a document without the
// section gets it appended. The write is atomic.
func Splice(path, section, body string) error {
	begin, end := fmt.Sprintf(BeginGenerated, section), fmt.Sprintf(EndGenerated, section)
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	block := begin + "\n" + strings.TrimRight(body, "\n") + "\n" + end
	var doc []byte
	i, j := bytes.Index(old, []byte(begin)), bytes.Index(old, []byte(end))
	switch {
	case i >= 0 && j > i:
		doc = append(append(append([]byte{}, old[:i]...), block...), old[j+len(end):]...)
	case i >= 0 || j >= 0:
		return fmt.Errorf("%s: the markers of section %q are broken; fix them by hand", path, section)
	case len(old) == 0:
		doc = []byte(block + "\n")
	default:
		doc = append(append(bytes.TrimRight(old, "\n"), "\n\n"...), block+"\n"...)
	}
	return atomicfile.WriteFile(path, doc)
}
