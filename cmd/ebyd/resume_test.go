package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cancelAt cancels when a line containing at is written: a Ctrl-C (or a
// kill) in the middle of the run, here once the second epoch has begun.
type cancelAt struct {
	buf    bytes.Buffer
	at     string
	cancel context.CancelFunc
}

func (w *cancelAt) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.at) {
		w.cancel()
	}
	return len(p), nil
}

func TestTrainResume(t *testing.T) {
	tmp := t.TempDir()
	whole, cut := filepath.Join(tmp, "whole"), filepath.Join(tmp, "cut")
	args := []string{"train", "--width", "4", "--train-subset", "800", "--test-subset", "100", "--batch-size", "32", "--epochs", "3"}
	ok(t, append(args, "--out", whole)...)

	// Interrupted during the second epoch: the first epoch's checkpoint is left.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	stderr := &cancelAt{at: "epoch 2/3", cancel: cancel}
	if code := execute(ctx, append(args, "--out", cut), &stdout, stderr); code == 0 {
		t.Fatalf("the cancelled run succeeded:\n%s", stderr.buf.String())
	}
	if _, err := os.Stat(filepath.Join(cut+".ckpt", "train.safetensors")); err != nil {
		t.Fatalf("no checkpoint after an interrupted run: %v\n%s", err, stderr.buf.String())
	}

	// Another setting is refused, naming it; the same command continues.
	fails(t, append(args, "--out", cut, "--resume", "--seed", "2"), "--resume", "seed is 1 there, 2 here")
	_, errs, code := ebyd(t, append(args, "--out", cut, "--resume")...)
	if code != 0 {
		t.Fatalf("--resume: exit %d\n%s", code, errs)
	}
	if !strings.Contains(errs, "resuming after epoch 1 of 3") {
		t.Errorf("the resumed run does not say where it resumes:\n%s", errs)
	}
	a, _ := os.ReadFile(filepath.Join(whole, "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(cut, "model.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("the resumed run's weights differ from the uninterrupted run's")
	}
	if _, err := os.Stat(cut + ".ckpt"); !os.IsNotExist(err) {
		t.Errorf("checkpoint left after the resumed run: %v", err)
	}

	fails(t, append(args, "--out", filepath.Join(tmp, "none"), "--resume"), "--resume", "no checkpoint")
	fails(t, append(args, "--resume"), "--resume needs --out")
}
