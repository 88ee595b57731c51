package checkpoint

import (
	"os"
	"path/filepath"
	"testing"
)

// TestExportForPython writes every fixture set back with WritePT and
// WriteSafetensors into $CHECKPOINT_EXPORT_DIR, for `gen.py verify` to load
// with PyTorch (see testdata/gen.py). Without the variable it does nothing.
func TestExportForPython(t *testing.T) {
	dir := os.Getenv("CHECKPOINT_EXPORT_DIR")
	if dir == "" {
		t.Skip("CHECKPOINT_EXPORT_DIR not set")
	}
	sources := map[string]string{"tiny": "tiny.pt", "dtypes": "dtypes.pt", "noncontig": "noncontig.pt"}
	for set, file := range sources {
		sd, err := Load(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		if err := WritePT(filepath.Join(dir, set+".pt"), sd); err != nil {
			t.Fatal(err)
		}
		if err := WriteSafetensors(filepath.Join(dir, set+".safetensors"), sd, map[string]string{"source": file}); err != nil {
			t.Fatal(err)
		}
	}
}
