//go:build long

package run

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestExposeGrid measures exposure on trained run folders and prints a
// Markdown table: for every run, its true target, the predicted target,
// the top candidates, the final class share, the rows run and the seconds,
// per method. The runs are the folders matched by EBYD_EXPOSE_RUNS (a
// space-separated list of globs; default runs/grid-mnist/*), the methods
// EBYD_EXPOSE_METHODS (default "cul-seed cul").
//
//	EBYD_EXPOSE_RUNS='../runs/grid-mnist/* ../runs/xp/*' GOMAXPROCS=1 \
//	  go test -tags long ./run -run ExposeGrid -v -timeout 6h
func TestExposeGrid(t *testing.T) {
	globs := os.Getenv("EBYD_EXPOSE_RUNS")
	if globs == "" {
		globs = "../runs/grid-mnist/*"
	}
	var dirs []string
	for _, g := range strings.Fields(globs) {
		m, _ := filepath.Glob(g)
		for _, d := range m {
			if _, err := os.Stat(filepath.Join(d, ManifestFile)); err == nil {
				dirs = append(dirs, d)
			}
		}
	}
	sort.Strings(dirs)
	if len(dirs) == 0 {
		t.Skipf("no run folders match %q", globs)
	}
	methods := strings.Fields(os.Getenv("EBYD_EXPOSE_METHODS"))
	if len(methods) == 0 {
		methods = []string{"cul-seed", "cul"}
	}
	out := t.TempDir()
	var lines []string
	lines = append(lines, "| run | attack | true target | method | predicted | candidates (score) | class share % | rows | stop | ASR before → after | seconds |",
		"|---|---|---|---|---|---|---|---|---|---|---|")
	for _, dir := range dirs {
		f, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		a, _, err := f.Attack()
		if err != nil {
			t.Fatal(err)
		}
		name, target := "clean", "–"
		if a != nil {
			name = a.Name + " " + string(a.Mode)
			target = fmt.Sprint(a.Target)
			if a.Mode == "all2all" {
				target = "y+1"
			}
		}
		for _, method := range methods {
			res, err := Expose(context.Background(), ExposeConfig{Run: dir, Method: method, Seed: 1, WithASR: a != nil, TestSubset: 1000},
				Options{Out: filepath.Join(out, filepath.Base(dir)+"-"+method)})
			if err != nil {
				t.Fatalf("%s %s: %v", dir, method, err)
			}
			var cands, share []string
			for i, c := range res.Candidates {
				if i < 3 {
					cands = append(cands, fmt.Sprintf("%d (%.2f)", c.Label, c.Score))
				}
			}
			for _, s := range res.ClassShare {
				share = append(share, fmt.Sprintf("%.0f", 100*s))
			}
			asr := "–"
			if res.ASR != nil {
				asr = fmt.Sprintf("%.2f → %.2f", *res.InitialASR, *res.ASR)
			}
			line := fmt.Sprintf("| %s | %s | %s | %s | %d | %s | %s | %d | %s | %s | %.0f |", filepath.Base(dir), name, target, method,
				res.PredictedTarget, strings.Join(cands, ", "), strings.Join(share, " "), res.Rows, res.Stop, asr, res.Seconds)
			lines = append(lines, line)
			b, _ := json.Marshal(res)
			t.Logf("%s", b)
			fmt.Println(line)
		}
	}
	fmt.Println()
	fmt.Println(strings.Join(lines, "\n"))
}
