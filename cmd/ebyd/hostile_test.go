package main

import (
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
