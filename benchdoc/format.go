package benchdoc

import (
	"fmt"
	"path/filepath"
)

// mark writes a predicted label with ✓ or ✗ against the truth (nothing
// when there is no single target).
func mark(got int, want *int) string {
	switch {
	case want == nil:
		return fmt.Sprint(got)
	case got == *want:
		return fmt.Sprintf("%d ✓", got)
	}
	return fmt.Sprintf("%d ✗", got)
}

func flagged(l []int) string {
	if len(l) == 0 {
		return "none"
	}
	return fmt.Sprint(l)
}

func star(b bool) string {
	if b {
		return "*"
	}
	return ""
}

func img(docDir, path string) string {
	rel, err := filepath.Rel(docDir, path)
	if err != nil {
		rel = path
	}
	return fmt.Sprintf("![](%s)", filepath.ToSlash(rel))
}

func pct(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }
