//go:build unix

package userfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quickly fails the test if f has not returned within a few seconds (a
// named pipe opened for reading waits for a writer forever).
func quickly(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("still blocked after 5s")
		return nil
	}
}

func TestNamedPipeIsRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "weights.pt")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	link := filepath.Join(dir, "link.pt")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, link} {
		for name, f := range map[string]func() error{
			"Check":    func() error { return Check(p) },
			"Open":     func() error { f, err := Open(p); f.Close(); return err },
			"ReadFile": func() error { _, err := ReadFile(p); return err },
		} {
			err := quickly(t, f)
			var nr *NotRegularError
			if !errors.As(err, &nr) || !strings.Contains(err.Error(), "is not a regular file (a named pipe)") || !strings.Contains(err.Error(), p) {
				t.Errorf("%s(%s) = %v, want a not-a-regular-file error naming it", name, p, err)
			}
		}
	}
}

// TestOpenNonBlocking: Open's flags open a named pipe without waiting, so
// a file swapped for one between Check and the open is caught by the check
// on the open file instead of blocking.
func TestOpenNonBlocking(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "p")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	err := quickly(t, func() error {
		f, err := os.OpenFile(fifo, os.O_RDONLY|openFlags, 0)
		if err != nil {
			return err
		}
		return f.Close()
	})
	if err != nil {
		t.Fatalf("opening a named pipe with openFlags: %v", err)
	}
}

func TestRegularFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.txt")
	want := strings.Repeat("ebyd ", 1000)
	if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(p); err != nil || string(b) != want {
		t.Fatalf("ReadFile = %d bytes, %v", len(b), err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if b, err := ReadFile(empty); err != nil || len(b) != 0 {
		t.Fatalf("ReadFile(empty) = %q, %v", b, err)
	}
	if _, err := ReadFile(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if err := Check(dir); err == nil || !strings.Contains(err.Error(), "(a directory)") {
		t.Errorf("Check(dir) = %v", err)
	}
	if err := Check("/dev/null"); err == nil || !strings.Contains(err.Error(), "character device") {
		t.Errorf("Check(/dev/null) = %v", err)
	}
}
