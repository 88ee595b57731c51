package layering

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// layers places every package of the module: a package may import only
// packages of lower layers, so imports flow one way and the methods of one
// kind (attacks, exposures, detectors, removals) never lean on each other.
var layers = map[string]int{
	"internal/atomicfile": 0, "internal/blas": 0, "internal/dnnl": 0, "internal/vec": 0,
	"internal/registry": 0, "internal/layering": 0, "internal/memlimit": 0, "internal/quote": 0, "internal/userfile": 0, "tensor": 0, "metrics": 0,
	"autograd": 1, "checkpoint": 1, "data": 1, "report": 1,
	"nn": 2, "optim": 2,
	"models": 3, "fit": 3,
	"attack": 4, "expose": 4, "detect": 4, "remove": 4,
	"run":      5,
	"benchdoc": 6,
	"cmd/ebyd": 7,
}

// imports lists the module's packages (directories holding non-test Go
// files, relative to root) with the module packages each imports.
func imports(t *testing.T, root string) map[string][]string {
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if _, ok := out[rel]; !ok {
			out[rel] = nil
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if q, ok := strings.CutPrefix(p, "ebyd/"); ok && !slices.Contains(out[rel], q) {
				out[rel] = append(out[rel], q)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportsFlowOneWay(t *testing.T) {
	pkgs := imports(t, "../..")
	if len(pkgs) < 10 {
		t.Fatalf("found %d packages: the test is looking in the wrong place", len(pkgs))
	}
	for pkg, deps := range pkgs {
		l, ok := layers[pkg]
		if !ok {
			t.Errorf("%s has no layer: place it in this test's table and in docs/architecture.md", pkg)
			continue
		}
		for _, d := range deps {
			if dl, ok := layers[d]; ok && dl >= l {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must go to lower layers", pkg, l, d, dl)
			}
		}
	}
}
