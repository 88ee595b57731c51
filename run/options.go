package run

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Options say where a stage writes and how it reports, as opposed to what
// it computes (its config).
type Options struct {
	Out   string // run folder to write
	Force bool   // replace an existing run folder at Out
	// Command is the command line, recorded in the manifest.
	Command []string
	// Progress receives progress reports (nil: none); Live means it is a
	// terminal, where one line is redrawn in place.
	Progress io.Writer
	Live     bool
	Columns  int // the terminal's width when Live (0: 80)
	// Resume continues an interrupted training run from the checkpoint it
	// left beside Out (CheckpointDir); only run.Train reads it.
	Resume bool

	ckpt      *checkpointer // set by Train: where trainModel keeps its checkpoints
	stopAfter int           // tests: Train fails after this epoch's checkpoint
	stopLabel string        // tests: ... of this model ("": any)
}

// Result is what a stage that writes a run folder returns.
type Result struct {
	Dir      string
	Manifest *Manifest
}

// DefaultOut picks a free run folder name under runs/ for a stage that was
// given no --out: runs/NAME, else runs/NAME-2, runs/NAME-3, ... It creates
// runs/ when missing.
func DefaultOut(name string) (string, error) {
	if err := os.MkdirAll("runs", 0o755); err != nil {
		return "", err
	}
	for i := 1; ; i++ {
		dir := filepath.Join("runs", name)
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", dir, i)
		}
		if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			return dir, nil
		}
	}
}
