package run

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ebyd/checkpoint"
)

// Formats lists the weight formats Export writes.
var Formats = []string{"safetensors", "pt"}

// ExportResult says what Export wrote.
type ExportResult struct {
	File    string  `json:"file"`
	Format  string  `json:"format"`
	Arch    string  `json:"arch"`
	Tensors int     `json:"tensors"`
	Params  int     `json:"params"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
}

// FormatOf returns the export format implied by a file name's extension, or
// "" when it implies none.
func FormatOf(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors":
		return "safetensors"
	case ".pt", ".pth":
		return "pt"
	}
	return ""
}

// Export writes the model of the run folder runDir to out as a state_dict
// with PyTorch's names and dtypes: format "safetensors", or "pt" for a
// torch.save file that torch.load reads. An empty format follows out's
// extension. An existing out is replaced only with force.
func Export(runDir, format, out string, force bool) (*ExportResult, error) {
	start := time.Now()
	if out == "" {
		return nil, errors.New("no output file given (--out)")
	}
	if format == "" {
		if format = FormatOf(out); format == "" {
			return nil, fmt.Errorf("cannot tell the format from %q: use --format safetensors or --format pt", out)
		}
	}
	if format != "safetensors" && format != "pt" {
		return nil, fmt.Errorf("unknown format %q (known: %s)", format, strings.Join(Formats, ", "))
	}
	if st, err := os.Stat(out); err == nil {
		if st.IsDir() {
			return nil, fmt.Errorf("%s is a directory; --out names the file to write", out)
		}
		if !force {
			return nil, fmt.Errorf("%s already exists; use --force to replace it", out)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if st, err := os.Stat(filepath.Dir(out)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("cannot write %s: its directory %s does not exist", out, filepath.Dir(out))
	}
	f, err := Open(runDir)
	if err != nil {
		return nil, err
	}
	m, err := f.Model()
	if err != nil {
		return nil, err
	}
	sd := StateDict(m)
	if format == "pt" {
		err = checkpoint.WritePT(out, sd)
	} else {
		err = checkpoint.WriteSafetensors(out, sd, weightsMetadata(f.Manifest.Model))
	}
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(out)
	if err != nil {
		return nil, err
	}
	return &ExportResult{File: out, Format: format, Arch: f.Manifest.Model.Arch, Tensors: sd.Len(), Params: countParams(m), Bytes: st.Size(), Seconds: since(start)}, nil
}
