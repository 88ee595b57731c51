//go:build unix

package run

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// deadPID returns the id of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if processAlive(pid) {
		t.Skipf("pid %d was reused at once", pid)
	}
	return pid
}

// fakeTemp makes a temporary folder of dir's as a writer with pid leaves
// it, holding a file, and returns its path.
func fakeTemp(t *testing.T, dir string, pid int, suffix string) string {
	t.Helper()
	p := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+tempInfix+strconv.Itoa(pid)+"-123456"+suffix)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, ManifestFile), []byte(`{"stage":"`+suffix+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestSaveRemovesStaleTemporaries: a save of OUT removes the temporary
// folders a killed writer of OUT left, and keeps those of a live process
// and those of other folders.
func TestSaveRemovesStaleTemporaries(t *testing.T) {
	dead := deadPID(t)
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	stale := fakeTemp(t, dir, dead, "")
	staleOld := fakeTemp(t, dir, dead, "-old")
	live := fakeTemp(t, dir, os.Getpid(), "")
	other := fakeTemp(t, filepath.Join(parent, "other"), dead, "")
	unrelated := filepath.Join(parent, "out.tmp-notes")
	os.Mkdir(unrelated, 0o755)

	// out exists, so the stale "-old" folder (the run out replaced) goes too.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, false, Contents{Manifest: &Manifest{Stage: "train"}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{stale, staleOld} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("stale %s survived the save", filepath.Base(p))
		}
	}
	for _, p := range []string{live, other, unrelated} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
	got := names(t, parent)
	want := []string{"out", filepath.Base(live), filepath.Base(other), "out.tmp-notes"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("parent holds %v, want %v", got, want)
	}
}

// TestStaleOldFolderIsRestored: a writer killed after moving the old OUT
// aside and before renaming the new one into place left no OUT; the next
// write puts the old one back instead of deleting it.
func TestStaleOldFolderIsRestored(t *testing.T) {
	dead := deadPID(t)
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	fakeTemp(t, dir, dead, "")     // the finished new folder, never renamed
	fakeTemp(t, dir, dead, "-old") // the earlier OUT, moved aside
	err := Save(dir, false, Contents{Manifest: &Manifest{Stage: "train"}})
	if err == nil || !strings.Contains(err.Error(), "already exists; use --force") {
		t.Fatalf("Save without force = %v, want the restored run folder to be kept", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, ManifestFile)); err != nil || !strings.Contains(string(b), "-old") {
		t.Fatalf("out holds %q (%v), want the earlier run folder back", b, err)
	}
	if got := names(t, parent); !slices.Equal(got, []string{"out"}) {
		t.Errorf("parent holds %v, want only out", got)
	}
	if err := Save(dir, true, Contents{Manifest: &Manifest{Stage: "train"}}); err != nil {
		t.Fatal(err)
	}
	if got := names(t, parent); !slices.Equal(got, []string{"out"}) {
		t.Errorf("after a forced save the parent holds %v, want only out", got)
	}
}

func TestStaleOwner(t *testing.T) {
	for _, c := range []struct {
		name     string
		pid      int
		old, tmp bool
	}{
		{"out.tmp-pid42-9876", 42, false, true},
		{"out.tmp-pid42-9876-old", 42, true, true},
		{"out.tmp-9876", 0, false, false},  // before pids were recorded: left alone
		{"out.tmp-pid42", 0, false, false}, // no random part
		{"out.tmp-pid042-1", 0, false, false},
		{"out.tmp-pid-1-x", 0, false, false},
		{"outer.tmp-pid42-1", 0, false, false},
		{"out", 0, false, false},
	} {
		pid, old, ok := staleOwner("/x/out", c.name)
		if ok != c.tmp || ok && (pid != c.pid || old != c.old) {
			t.Errorf("staleOwner(%q) = %d, %v, %v; want %d, %v, %v", c.name, pid, old, ok, c.pid, c.old, c.tmp)
		}
	}
}
