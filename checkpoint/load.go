package checkpoint

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"ebyd/internal/quote"
	"ebyd/internal/userfile"
)

// Load reads a state dict from a safetensors file or a torch.save .pt file,
// recognising the format from the content (a .pth that is really
// safetensors, or a .bin that is a torch zip, both load).
func Load(path string) (*StateDict, error) { return readFile(path, load) }

// readFile opens path and parses it with read, naming the file in errors.
func readFile(path string, read func(r io.ReaderAt, size int64) (*StateDict, error)) (*StateDict, error) {
	f, err := userfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	sd, err := read(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return sd, nil
}

func load(r io.ReaderAt, size int64) (*StateDict, error) {
	var head [512]byte
	n, _ := r.ReadAt(head[:], 0)
	switch detectFormat(head[:n]) {
	case formatZip, formatLegacy, formatTar:
		return readPT(r, size)
	case formatSafetensors:
		sd, _, err := readSafetensors(r, size)
		return sd, err
	}
	if n == 0 {
		return nil, fmt.Errorf("empty file")
	}
	return nil, fmt.Errorf("unknown format: not a safetensors file or a torch.save .pt file")
}

// Save writes sd in the format named by path's extension: .safetensors,
// or .pt/.pth/.bin for a torch.save zip.
func Save(path string, sd *StateDict) error {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".safetensors":
		return WriteSafetensors(path, sd, nil)
	case ".pt", ".pth", ".bin":
		return WritePT(path, sd)
	default:
		return fmt.Errorf("checkpoint: %s: unknown extension %s: use .safetensors, .pt or .pth", path, quote.Name(ext))
	}
}
