package benchdoc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
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

// readResult reads the summary file a benchmark wrote into its folder; a
// missing one says which command writes it.
func readResult[T any](bench, file, command string) (*T, error) {
	raw, err := os.ReadFile(filepath.Join(bench, file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s holds no %s; run the benchmark first (ebyd %s --out %s)", bench, file, command, bench)
	}
	if err != nil {
		return nil, err
	}
	var res T
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(bench, file), err)
	}
	return &res, nil
}
