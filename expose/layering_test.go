package expose_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The defenses' packages: exposure, detection and removal.
var defenseDirs = []string{"../expose", "../detect", "../remove"}

// forbiddenImports are the packages that hold poisoned data, triggers and
// test labels: the evaluator's side (DESIGN §3).
var forbiddenImports = map[string]string{
	"ebyd/run":     "the run stage (poisoned training sets, test splits, run folders)",
	"ebyd/attack":  "triggers and poisoning",
	"ebyd/metrics": "the evaluator's metrics on test labels",
}

// forbiddenData are the functions of package data that reach a whole split:
// a defense gets a *data.Defense that the run stage drew, nothing more.
var forbiddenData = map[string]bool{"Load": true, "NewDefense": true}

// violations lists what a Go source file does that a defense must not.
func violations(fset *token.FileSet, f *ast.File) []string {
	var out []string
	dataName := ""
	for _, im := range f.Imports {
		path, _ := strconv.Unquote(im.Path.Value)
		if why, bad := forbiddenImports[path]; bad {
			out = append(out, fset.Position(im.Pos()).String()+": imports "+path+" ("+why+")")
		}
		if path == "ebyd/data" {
			dataName = "data"
			if im.Name != nil {
				dataName = im.Name.Name
			}
			if dataName == "." {
				out = append(out, fset.Position(im.Pos()).String()+": dot-imports ebyd/data")
			}
		}
	}
	if dataName == "" {
		return out
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == dataName && forbiddenData[sel.Sel.Name] {
			out = append(out, fset.Position(sel.Pos()).String()+": uses data."+sel.Sel.Name)
		}
		return true
	})
	return out
}

// TestDefensesCannotReachPoisonedData is the structural guarantee that
// exposure, detection and removal only ever see the clean defense set:
// their (non-test) source files import neither the run stage, the attacks
// nor the metrics, and never load a dataset or draw a defense set
// themselves.
func TestDefensesCannotReachPoisonedData(t *testing.T) {
	checked := 0
	for _, root := range defenseDirs {
		if _, err := os.Stat(root); os.IsNotExist(err) {
			continue // a package not written yet
		}
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			for _, v := range violations(fset, f) {
				t.Errorf("%s: a defense must receive only the clean defense set", v)
			}
			checked++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked == 0 {
		t.Fatal("no defense source files found: the test is looking in the wrong place")
	}
}

// The checker itself catches each kind of violation.
func TestLayeringCheckerCatches(t *testing.T) {
	src := `package bad

import (
	"ebyd/attack"
	d "ebyd/data"
	_ "ebyd/metrics"
)

var _ = attack.Names

func f() {
	d.Load("mnist", "")
	g := d.NewDefense
	_ = g
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "bad.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(violations(fset, f), "\n")
	for _, want := range []string{"imports ebyd/attack", "imports ebyd/metrics", "uses data.Load", "uses data.NewDefense"} {
		if !strings.Contains(got, want) {
			t.Errorf("violations of a bad file:\n%s\nmissing %q", got, want)
		}
	}
	ok := `package good

import "ebyd/data"

func f(d *data.Defense) *data.Dataset { return d.Data() }
`
	f, err = parser.ParseFile(fset, "good.go", ok, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v := violations(fset, f); len(v) > 0 {
		t.Errorf("a file using only data.Defense flagged: %v", v)
	}
}
