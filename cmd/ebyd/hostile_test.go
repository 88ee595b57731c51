package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ebyd/checkpoint"
	"ebyd/tensor"
)

// forged is a name a hostile file can carry: a newline, a fake success line
// and the escape that clears the screen.
const forged = "x\nebyd: import finished OK, clean acc 99.9%\x1b[2J"

// hostileFails runs a command that must fail with exactly one "ebyd:" line
// on stderr, free of raw control characters, containing each of want.
func hostileFails(t *testing.T, args []string, want ...string) string {
	t.Helper()
	fails(t, args, want...)
	_, errs, _ := ebyd(t, args...)
	if strings.Count(errs, "\n") != 1 || strings.ContainsAny(strings.TrimSuffix(errs, "\n"), "\r\x1b\x9b") {
		t.Errorf("ebyd %s: stderr %q is not one clean line", strings.Join(args, " "), errs)
	}
	return errs
}

// TestHostileTensorNames: tensor names from a weights file reach the error
// quoted, the forged line escaped inside them.
func TestHostileTensorNames(t *testing.T) {
	tmp := t.TempDir()
	sd, err := checkpoint.Load(ptFixture)
	if err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(tmp, "extra.safetensors")
	withExtra := &checkpoint.StateDict{Entries: append(sd.Entries[:len(sd.Entries):len(sd.Entries)],
		checkpoint.Entry{Name: forged, DType: checkpoint.F32, Tensor: tensor.New(1)})}
	if err := checkpoint.WriteSafetensors(extra, withExtra, nil); err != nil {
		t.Fatal(err)
	}
	only := filepath.Join(tmp, "only.safetensors")
	if err := checkpoint.WriteSafetensors(only, &checkpoint.StateDict{Entries: []checkpoint.Entry{
		{Name: forged, DType: checkpoint.F32, Tensor: tensor.New(1)}}}, nil); err != nil {
		t.Fatal(err)
	}
	escaped := `"x\nebyd: import finished OK, clean acc 99.9%\x1b[2J"`
	for _, c := range []struct{ name, weights, want string }{
		{"unexpected tensor", extra, "unexpected: [" + escaped + "]"},
		{"names listed", only, "the file holds " + escaped},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(tmp, "out-"+strings.Fields(c.name)[0])
			hostileFails(t, []string{"import", "--arch", "mnistnet", "--weights", c.weights, "--test-subset", "20", "--out", out}, c.want)
			absent(t, out)
		})
	}
}

// idx writes an IDX file: the magic (0, 0, 8, len(dims)), the dims, body.
func idx(t *testing.T, path string, dims []uint32, body []byte) {
	t.Helper()
	b := []byte{0, 0, 8, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	if err := os.WriteFile(path, append(b, body...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSplitSizesDifferCLI: an MNIST --data-dir whose test images are 14×14
// and training images 28×28 fails at load time with both sizes named (it
// used to fail in the model: "nn: fc1 expects [N, 9216], got [100 1600]").
func TestSplitSizesDifferCLI(t *testing.T) {
	dir := t.TempDir()
	idx(t, filepath.Join(dir, "train-images-idx3-ubyte"), []uint32{3, 28, 28}, make([]byte, 3*28*28))
	idx(t, filepath.Join(dir, "train-labels-idx1-ubyte"), []uint32{3}, []byte{0, 1, 2})
	idx(t, filepath.Join(dir, "t10k-images-idx3-ubyte"), []uint32{3, 14, 14}, make([]byte, 3*14*14))
	idx(t, filepath.Join(dir, "t10k-labels-idx1-ubyte"), []uint32{3}, []byte{0, 1, 2})
	out := filepath.Join(t.TempDir(), "out")
	hostileFails(t, []string{"train", "--width", "4", "--epochs", "1", "--data-dir", dir, "--out", out},
		"t10k-images-idx3-ubyte holds 14×14 images but train-images-idx3-ubyte holds 28×28 (height×width)")
	absent(t, out)
}
