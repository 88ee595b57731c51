package fit_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// stages are the packages that train with fit: fit must not depend on
// them.
var stages = []string{"ebyd/run", "ebyd/expose", "ebyd/remove", "ebyd/detect", "ebyd/attack"}

func TestFitImportsNoStage(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			for _, s := range stages {
				if path == s || strings.HasPrefix(path, s+"/") {
					t.Errorf("%s imports %s: the loop is below the stages that use it", name, path)
				}
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no source files found")
	}
}
