package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ebyd runs the command line in-process and returns its stdout, stderr and
// exit status.
func ebyd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// ok runs a command that must succeed and decodes its --json line.
func ok(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, errs, code := ebyd(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("ebyd %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errs)
	}
	return lastJSON(t, out)
}

// lastJSON decodes the JSON object on the last line of stdout.
func lastJSON(t *testing.T, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	var obj map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &obj); err != nil {
		t.Fatalf("last stdout line is not a JSON object: %v\nstdout:\n%s", err, stdout)
	}
	return obj
}

// fails runs a command that must fail with one "ebyd:" line on stderr
// containing every one of want.
func fails(t *testing.T, args []string, want ...string) {
	t.Helper()
	out, errs, code := ebyd(t, args...)
	if code == 0 {
		t.Fatalf("ebyd %s succeeded, want an error\nstdout: %s", strings.Join(args, " "), out)
	}
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "ebyd: ") {
		t.Fatalf("ebyd %s: stderr does not end with an ebyd: line:\n%s", strings.Join(args, " "), errs)
	}
	for _, w := range want {
		if !strings.Contains(last, w) {
			t.Errorf("ebyd %s: error %q does not mention %q", strings.Join(args, " "), last, w)
		}
	}
	if strings.Contains(errs, "goroutine ") || strings.Contains(errs, "panic:") {
		t.Errorf("stack trace on stderr:\n%s", errs)
	}
}

// absent checks that a failed command left nothing at path or beside it.
func absent(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); err == nil {
		t.Errorf("%s exists after a failed command", path)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") || strings.Contains(e.Name(), ".old-") {
			t.Errorf("temporary %s left in %s", e.Name(), filepath.Dir(path))
		}
	}
}

func TestVersion(t *testing.T) {
	obj := ok(t, "version")
	if obj["version"] == "" || obj["blas"] == "" {
		t.Fatalf("version JSON %v lacks version or blas", obj)
	}
}

func TestHelpEveryCommand(t *testing.T) {
	for _, cmd := range [][]string{{}, {"train"}, {"import"}, {"export"}, {"bench"}, {"bench", "engine"}, {"version"}} {
		out, _, code := ebyd(t, append(cmd, "--help")...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("ebyd %v --help: exit %d, output:\n%s", cmd, code, out)
		}
	}
	out, _, _ := ebyd(t, "train", "--help")
	for _, flag := range []string{"--dataset", "--model", "--epochs", "--batch-size", "--lr", "--optimizer", "--seed", "--out", "--train-subset", "--json", "(default 16)"} {
		if !strings.Contains(out, flag) {
			t.Errorf("train --help does not mention %s", flag)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"train", "--no-such-flag"},
		{"train", "--epochs", "many"},
		{"no-such-command"},
		{"trian"},
		{"train", "extra"},
		{"import", "--weights", "x.pt"},
	} {
		_, errs, code := ebyd(t, args...)
		if code != 2 || !strings.HasPrefix(errs, "ebyd: ") || strings.Count(errs, "\n") != 1 {
			t.Errorf("ebyd %v: exit %d, stderr %q; want exit 2 and one ebyd: line", args, code, errs)
		}
	}
	fails(t, []string{"import", "--weights", "x.pt"}, "arch")
	fails(t, []string{"export", "--run", "x"}, "out")
	fails(t, []string{"trian"}, "unknown command", "did you mean: train")
}

// TestErrorLineEscapesControls: an error carrying a newline and terminal
// escapes (a name read from a hostile file) prints as one escaped line.
func TestErrorLineEscapesControls(t *testing.T) {
	got := errorLine(errors.New("tensor x\n\x1b[2Jebyd: import finished OK, clean acc 99.9%\r\x9b"))
	want := `ebyd: tensor x \x1b[2Jebyd: import finished OK, clean acc 99.9% \x9b`
	if got != want {
		t.Errorf("errorLine = %q, want %q", got, want)
	}

	// End to end: a file name holding the escapes, in an error that does
	// not quote it (the operating system's).
	dir := t.TempDir()
	weights := filepath.Join(dir, "w\n\x1b[2J.pt")
	_, errs, code := ebyd(t, "import", "--arch", "mnistnet", "--weights", weights, "--out", filepath.Join(dir, "out"))
	if code == 0 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "ebyd: ") {
		t.Fatalf("exit %d, stderr %q; want one ebyd: line", code, errs)
	}
	if strings.ContainsAny(errs[:len(errs)-1], "\n\r\x1b") || !strings.Contains(errs, `\x1b[2J`) {
		t.Errorf("stderr %q holds raw control characters or lacks the escaped name", errs)
	}
}
