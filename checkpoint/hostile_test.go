package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ebyd/internal/memlimit"
)

// Hostile inputs: small files that ask for memory out of proportion to
// their size end in an error naming the cause, not in an out-of-memory
// crash. Each file here is a few kilobytes and nothing in the test
// allocates more than tens of megabytes.

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The floods would stop at the fixed cap (512 MiB); a memory limit of
// 32 MiB lowers the budget to 8 MiB so that the test stays small.
func TestPickleBudgetRefusesFloods(t *testing.T) {
	t.Setenv(memlimit.Env, "32MiB")
	rep := func(s string, n int) []byte { return bytes.Repeat([]byte(s), n) }
	for name, body := range map[string][]byte{
		// 300000 empty dicts appended to a list: 600 kB of pickle.
		"dicts appended": append([]byte{opEmptyList}, rep("}a", 300000)...),
		// One dict memoized 400000 times.
		"memo flood": append([]byte{opEmptyDict}, rep("\x94", 400000)...),
		// One dict duplicated onto the stack and appended, 2^19 at a time.
		"dup and appends": append([]byte{opEmptyList}, bytes.Repeat(append(append([]byte{opMark, opEmptyDict}, rep("2", 1<<19)...), opAppends), 2)...),
	} {
		pkl := append(append([]byte{opProto, 2}, body...), opStop)
		zipped := ptZip(t, pkl, nil)
		if len(zipped) > 64<<10 {
			t.Fatalf("%s: the test file is %d bytes", name, len(zipped))
		}
		path := writeTemp(t, "flood.pt", zipped)
		_, err := Load(path)
		var tooBig *pickleTooBigError
		if !errors.As(err, &tooBig) || !strings.Contains(err.Error(), "the pickle builds more than") ||
			!strings.Contains(err.Error(), "corrupt or hostile") {
			t.Errorf("%s: got %v", name, err)
			continue
		}
		if tooBig.budget != 8<<20 || tooBig.built <= tooBig.budget {
			t.Errorf("%s: %+v", name, tooBig)
		}
	}
	t.Setenv(memlimit.Env, "64GiB")
	for n, want := range map[int]int64{1000: 64<<20 + 64000, 1 << 30: maxPickleBuilt} {
		if got, err := pickleBudget(n); err != nil || got != want {
			t.Errorf("budget of a %d-byte pickle: %d, %v; want %d", n, got, err, want)
		}
	}
}

// TestPickleBudgetFitsRealFiles: the pickles torch.save wrote (testdata)
// build less than half the budget's 64 bytes per byte.
func TestPickleBudgetFitsRealFiles(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.pt")
	checked := 0
	for _, path := range paths {
		zr, err := zip.OpenReader(path)
		if err != nil {
			continue // the legacy format
		}
		for _, f := range zr.File {
			if !strings.HasSuffix(f.Name, "/data.pkl") {
				continue
			}
			rc, _ := f.Open()
			data, _ := io.ReadAll(rc)
			rc.Close()
			refs := map[string]*storageRef{}
			u := &unpickler{data: data, global: torchGlobal, call: torchCall,
				persistentLoad: func(pid any) (any, error) { return zipPersistentLoad(pid, refs) }}
			if _, err := u.run(); err != nil {
				var refused *refusedGlobalError
				if !errors.As(err, &refused) && !errors.Is(err, errPickledModule) {
					t.Errorf("%s: %v", path, err)
				}
				continue
			}
			checked++
			if ratio := float64(u.built) / float64(len(data)); ratio > 32 {
				t.Errorf("%s: the pickle builds %d bytes for %d (%.1f per byte)", path, u.built, len(data), ratio)
			}
		}
		zr.Close()
	}
	if checked < 3 {
		t.Fatalf("checked %d pickles", checked)
	}
}

// A zip storage declared as 2^34 float32s deflates to a few hundred
// kilobytes... here its directory entry is enough: the sizes are checked
// before anything is read.
func TestPTStoragesOverMemoryLimit(t *testing.T) {
	t.Setenv(memlimit.Env, "1MiB")
	n := int64(1 << 18) // 1 MiB of float32, 2 MiB with its storage
	pkl := dictPickle("w", tensorOps("0", n, 0, []int{int(n)}, []int{1}))
	path := writeTemp(t, "big.pt", ptZip(t, pkl, map[string][]byte{"0": make([]byte, 4*n)}))
	_, err := Load(path)
	var me *memlimit.Error
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "the state_dict's 1 tensors needs 2 MiB to load (storage bytes and float32 values); the limit is 1 MiB") {
		t.Errorf("got %v", err)
	}
	t.Setenv(memlimit.Env, "")
	if _, err := Load(path); err != nil {
		t.Errorf("under the default limit: %v", err)
	}
}

func TestSafetensorsOverMemoryLimit(t *testing.T) {
	header := []byte(`{"w":{"dtype":"F16","shape":[4096],"data_offsets":[0,8192]}}`)
	file := append(binary.LittleEndian.AppendUint64(nil, uint64(len(header))), header...)
	file = append(file, make([]byte, 8192)...)
	path := writeTemp(t, "w.safetensors", file)
	t.Setenv(memlimit.Env, "16KiB")
	_, _, err := ReadSafetensors(path)
	if err == nil || !strings.Contains(err.Error(), "the file's 1 tensors needs 24 KiB as float32; the limit is 16 KiB") {
		t.Errorf("got %v", err)
	}
	t.Setenv(memlimit.Env, "")
	if _, _, err := ReadSafetensors(path); err != nil {
		t.Error(err)
	}
}

// A data.pkl over maxPickleSize is refused from the zip directory, before
// it is inflated: 257 MiB of '}' deflates to about 256 KiB.
func TestPTPickleOverSizeLimit(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("archive/data.pkl")
	chunk := bytes.Repeat([]byte{opEmptyDict}, 1<<20)
	for range maxPickleSize>>20 + 1 {
		w.Write(chunk)
	}
	zw.Close()
	path := writeTemp(t, "huge-pickle.pt", buf.Bytes())
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), `"archive/data.pkl" is 269484032 bytes, more than the 268435456 expected`) {
		t.Errorf("got %v", err)
	}
}
