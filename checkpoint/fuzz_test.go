package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fuzz targets check that no input panics, hangs or asks for absurd
// memory, and that whatever is accepted is a well-formed state dict. Run, for
// example:
//
//	go test ./checkpoint -run '^$' -fuzz FuzzReadPT -fuzztime 30s

func seedFiles(f *testing.F, suffix string) {
	f.Helper()
	paths, _ := filepath.Glob("testdata/*" + suffix)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// And a Go-written file.
	path := filepath.Join(f.TempDir(), "go"+suffix)
	if err := Save(path, sampleStateDict()); err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	f.Add(b)
}

func checkWellFormed(t *testing.T, sd *StateDict) {
	t.Helper()
	if err := sd.Validate(); err != nil {
		t.Fatalf("accepted a malformed state dict: %v", err)
	}
}

// hangGuard crashes the fuzzing process when one input runs longer than
// limit: go test's fuzzer has no time limit per input, but it saves the
// input that made a worker die, so a hang becomes a reproducer.
func hangGuard(t *testing.T, limit time.Duration) {
	timer := time.AfterFunc(limit, func() { panic(fmt.Sprintf("%s: one input ran over %v", t.Name(), limit)) })
	t.Cleanup(func() { timer.Stop() })
}

func FuzzReadPT(f *testing.F) {
	seedFiles(f, ".pt")
	f.Fuzz(func(t *testing.T, data []byte) {
		hangGuard(t, 10*time.Second)
		sd, err := readPT(bytes.NewReader(data), int64(len(data)))
		if err == nil {
			checkWellFormed(t, sd)
		}
	})
}

func FuzzReadSafetensors(f *testing.F) {
	seedFiles(f, ".safetensors")
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, _, err := readSafetensors(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		checkWellFormed(t, sd)
		// What was read can be written back, and reads back the same.
		var buf bytes.Buffer
		header, err := safetensorsHeader(sd, nil)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(header))))
		buf.Write(header)
		for _, e := range sd.Entries {
			b, err := encode(nil, e.DType, e.Tensor.Data)
			if err != nil {
				t.Fatalf("%s: %v", e.Name, err)
			}
			buf.Write(b)
		}
		again, _, err := readSafetensors(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("re-reading what was written: %v", err)
		}
		if strings.Join(again.Names(), "\x00") != strings.Join(sd.Names(), "\x00") {
			t.Fatalf("names changed: %v -> %v", sd.Names(), again.Names())
		}
	})
}

// FuzzUnpickle drives the pickle machine directly: inside a zip, mutations
// of data.pkl would almost always fail the CRC check first.
func FuzzUnpickle(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.pt")
	for _, p := range paths {
		zr, err := zip.OpenReader(p)
		if err != nil {
			continue // the legacy file
		}
		for _, file := range zr.File {
			if strings.HasSuffix(file.Name, "data.pkl") {
				rc, _ := file.Open()
				b, _ := io.ReadAll(rc)
				rc.Close()
				f.Add(b)
			}
		}
		zr.Close()
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		refs := map[string]*storageRef{}
		u := &unpickler{
			data: data, global: torchGlobal, call: torchCall,
			persistentLoad: func(pid any) (any, error) { return zipPersistentLoad(pid, refs) },
		}
		top, err := u.run()
		if err != nil {
			return
		}
		entries, err := findStateDict(top)
		if err != nil {
			return
		}
		// Storages of zeros stand in for the zip entries, within a bound
		// that a real file's size would impose.
		load := func(ref *storageRef) ([]byte, error) {
			n := ref.numel * int64(ref.dtype.Size())
			if n > 1<<16 {
				return nil, io.ErrUnexpectedEOF
			}
			return make([]byte, n), nil
		}
		sd, err := materialise(entries, load, binary.LittleEndian)
		if err == nil {
			checkWellFormed(t, sd)
		}
	})
}

// FuzzSafetensorsHeader mutates the JSON header alone, framed with its
// right length and followed by dataLen zero bytes: in FuzzReadSafetensors
// most mutations break the 8-byte length first, and the records, offsets,
// shapes and __metadata__ are rarely reached.
func FuzzSafetensorsHeader(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.safetensors")
	paths = append(paths, "../models/testdata/parity_mnistnet.safetensors")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || len(b) < 8 {
			continue
		}
		n := binary.LittleEndian.Uint64(b)
		if n > uint64(len(b)-8) {
			continue
		}
		f.Add(string(b[8:8+n]), uint32(len(b)-8-int(n)))
	}
	f.Add(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[],"data_offsets":[4,6]}}`, uint32(6))
	f.Add(`{"__metadata__":{"k":"v"},"x":{"dtype":"F64","shape":[0],"data_offsets":[0,0]}}`, uint32(0))
	f.Add(`{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`, uint32(0))
	f.Fuzz(func(t *testing.T, header string, dataLen uint32) {
		dataLen %= 1 << 16
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		b = append(b, header...)
		b = append(b, make([]byte, dataLen)...)
		sd, _, err := readSafetensors(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error with no message")
			}
			return
		}
		checkWellFormed(t, sd)
	})
}
