//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNamedPipesAreRefused: every flag naming a file to read refuses a
// named pipe at once, where reading it would block forever.
func TestNamedPipesAreRefused(t *testing.T) {
	tmp := t.TempDir()
	fifo := filepath.Join(tmp, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// A data dir whose training images file is a named pipe, and an image
	// folder with a pipe among its images.
	idxDir := filepath.Join(tmp, "idx")
	os.Mkdir(idxDir, 0o755)
	if err := syscall.Mkfifo(filepath.Join(idxDir, "train-images-idx3-ubyte.gz"), 0o644); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(tmp, "folder")
	for _, split := range []string{"train", "test"} {
		os.MkdirAll(filepath.Join(folder, split, "a"), 0o755)
		writePNG(t, filepath.Join(folder, split, "a", "0.png"), 8, 8)
	}
	if err := syscall.Mkfifo(filepath.Join(folder, "test", "a", "1.png"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	imp := []string{"import", "--arch", "mnistnet", "--test-subset", "20", "--out", out}
	train := []string{"train", "--width", "4", "--train-subset", "64", "--test-subset", "20", "--out", out}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"--weights", append(imp, "--weights", fifo), []string{"--weights", fifo, "is not a regular file (a named pipe)"}},
		{"--config", []string{"pipeline", "--config", fifo, "--out", out}, []string{"--config", fifo, "is not a regular file (a named pipe)"}},
		{"--trigger-pattern", append(train, "--attack", "blend", "--trigger-pattern", fifo), []string{"--trigger-pattern", fifo, "is not a regular file (a named pipe)"}},
		{"--trigger-mask", append(train, "--attack", "badnets", "--trigger-mask", fifo), []string{"--trigger-mask", fifo, "is not a regular file (a named pipe)"}},
		{"--data-dir idx", append(train, "--data-dir", idxDir), []string{"train-images-idx3-ubyte.gz is not a regular file (a named pipe)"}},
		{"--data-dir imagefolder", append(train, "--dataset", "imagefolder", "--model", "mnistnet", "--data-dir", folder), []string{"1.png is not a regular file (a named pipe)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				hostileFails(t, c.args, c.want...)
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("ebyd %s still running after 20s: blocked on the named pipe", strings.Join(c.args, " "))
			}
			absent(t, out)
		})
	}
}
