package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureFiles lists every committed fixture, readable or refused.
func fixtureFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"testdata/*.pt", "testdata/*.safetensors"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("only %d fixtures found", len(files))
	}
	return files
}

func TestTruncatedFilesGiveErrors(t *testing.T) {
	dir := t.TempDir()
	for _, file := range fixtureFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		n := len(data)
		cuts := []int{0, 1, 4, 7, 8, 9, 16, 30, 64, 100, n / 4, n / 3, n / 2, 2 * n / 3, n - 100, n - 23, n - 22, n - 8, n - 1}
		for _, cut := range cuts {
			if cut < 0 || cut >= n {
				continue
			}
			path := filepath.Join(dir, filepath.Base(file))
			if err := os.WriteFile(path, data[:cut], 0o644); err != nil {
				t.Fatal(err)
			}
			for name, read := range map[string]func(string) (*StateDict, error){
				"Load":            Load,
				"ReadPT":          ReadPT,
				"ReadSafetensors": func(p string) (*StateDict, error) { sd, _, err := ReadSafetensors(p); return sd, err },
			} {
				sd, err := read(path)
				if err == nil {
					t.Errorf("%s of %s cut at %d/%d: no error, %d entries", name, file, cut, n, sd.Len())
					continue
				}
				if !strings.HasPrefix(err.Error(), "checkpoint: "+path+": ") {
					t.Errorf("%s of %s cut at %d: error %q does not name the file", name, file, cut, err)
				}
			}
		}
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.pt"))
	if err == nil || !strings.Contains(err.Error(), "nope.pt") {
		t.Errorf("error %v", err)
	}
}

func TestUnknownFormats(t *testing.T) {
	cases := map[string]struct {
		data []byte
		want string
	}{
		"empty":        {nil, "empty file"},
		"text":         {[]byte("hello, this is not a model\n"), "unknown format"},
		"plain pickle": {[]byte("\x80\x02}q\x00."), "unknown format"},
		"onnx-ish":     {[]byte("\x08\x07\x12\x07pytorch"), "unknown format"},
		"tar":          {append(make([]byte, 257), "ustar\x0000"...), "tar-based"},
	}
	for name, c := range cases {
		path := filepath.Join(t.TempDir(), "m.pt")
		os.WriteFile(path, c.data, 0o644)
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
}

// rezip copies the zip in src through edit, which returns an entry's new
// content, or false to drop it. Extra entries are appended.
func rezip(t *testing.T, src string, edit func(name string, data []byte) ([]byte, bool), extra map[string][]byte) []byte {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	put := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		if data, keep := edit(f.Name, data); keep {
			put(f.Name, data)
		}
	}
	for name, data := range extra {
		put(name, data)
	}
	zw.Close()
	return buf.Bytes()
}

func keep(_ string, data []byte) ([]byte, bool) { return data, true }

// ptZip is a torch.save zip with the given pickle and storages.
func ptZip(t *testing.T, pkl []byte, storages map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("archive/data.pkl")
	w.Write(pkl)
	for key, data := range storages {
		w, _ := zw.Create("archive/data/" + key)
		w.Write(data)
	}
	w, _ = zw.Create("archive/version")
	w.Write([]byte("3\n"))
	zw.Close()
	return buf.Bytes()
}

// dictPickle pickles {key: value, ...} where each value is raw pickle ops.
func dictPickle(items ...any) []byte {
	var p pickleWriter
	p.op(opProto, 2, opEmptyDict, opMark)
	for i := 0; i < len(items); i += 2 {
		p.str(items[i].(string))
		p.buf.Write(items[i+1].([]byte))
	}
	p.op(opSetItems, opStop)
	return p.buf.Bytes()
}

// tensorOps are the pickle ops (no PROTO/STOP) of a float tensor view on
// storage key with n elements.
func tensorOps(key string, n, offset int64, size, stride []int) []byte {
	var p pickleWriter
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.op(opMark, opMark)
	p.str("storage")
	p.global("torch", "FloatStorage")
	p.str(key)
	p.str("cpu")
	p.int(n)
	p.op(opTuple, opBinPersID)
	p.int(offset)
	p.tuple(size)
	p.tuple(stride)
	p.op(opNewFalse, opNone, opTuple, opReduce)
	// Each call memoises its globals afresh (BINPUT overwrites), so
	// several of these can share one pickle.
	return p.buf.Bytes()
}

func floats(vs ...float32) []byte {
	b, _ := encode(nil, F32, vs)
	return b
}

func TestCorruptPTFiles(t *testing.T) {
	tiny := "testdata/tiny.pt"
	six := floats(0, 1, 2, 3, 4, 5)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"missing storage", rezip(t, tiny, func(name string, d []byte) ([]byte, bool) {
			return d, !strings.HasSuffix(name, "/data/3")
		}, nil), `storage "3" is missing from the zip (no "tiny/data/3")`},
		{"short storage", rezip(t, tiny, func(name string, d []byte) ([]byte, bool) {
			if strings.HasSuffix(name, "/data/0") {
				return d[:len(d)-4], true
			}
			return d, true
		}, nil), `storage "0" has 68 bytes, want 72 (18 × F32)`},
		{"no pickle", rezip(t, tiny, func(name string, d []byte) ([]byte, bool) {
			return d, !strings.HasSuffix(name, "data.pkl")
		}, nil), "no <dir>/data.pkl"},
		{"two pickles", rezip(t, tiny, keep, map[string][]byte{"other/data.pkl": {'.'}}), "two pickles"},
		{"torchscript", rezip(t, tiny, func(name string, d []byte) ([]byte, bool) {
			return d, !strings.HasSuffix(name, "data.pkl")
		}, map[string][]byte{"tiny/constants.pkl": {'.'}}), "TorchScript"},
		{"bad byteorder", rezip(t, tiny, keep, map[string][]byte{"tiny/byteorder": []byte("middle")}), `says "middle"`},
		{"truncated pickle", rezip(t, tiny, func(name string, d []byte) ([]byte, bool) {
			if strings.HasSuffix(name, "data.pkl") {
				return d[:len(d)/2], true
			}
			return d, true
		}, nil), "tiny/data.pkl: pickle ends before STOP"},
		{"view past storage", ptZip(t, dictPickle("w", tensorOps("0", 6, 2, []int{2, 3}, []int{3, 1})), map[string][]byte{"0": six}),
			"reaches past its storage of 6 elements"},
		{"pickle numel disagrees with zip", ptZip(t, dictPickle("w", tensorOps("0", 8, 0, []int{8}, []int{1})), map[string][]byte{"0": six}),
			`storage "0" has 24 bytes, want 32 (8 × F32)`},
		{"storage used with two sizes", ptZip(t, dictPickle("w", tensorOps("0", 6, 0, []int{6}, []int{1}), "v", tensorOps("0", 5, 0, []int{5}, []int{1})), map[string][]byte{"0": six}),
			`storage "0" is used as 6 × F32 and as 5 × F32`},
		{"expanded beyond budget", ptZip(t, dictPickle("w", tensorOps("0", 6, 0, []int{1 << 15, 1 << 15}, []int{0, 0})), map[string][]byte{"0": six}),
			"out of proportion"},
		{"non-tensor entry", ptZip(t, dictPickle("w", tensorOps("0", 6, 0, []int{6}, []int{1}), "step", []byte{opBinInt1, 3}), map[string][]byte{"0": six}),
			`state_dict entry "step" has type int, not a tensor`},
		{"no state dict", ptZip(t, dictPickle("epoch", []byte{opBinInt1, 3}, "arch", binUnicode("x")), nil),
			`no state_dict found: the top-level dict has keys "epoch", "arch"`},
		{"single tensor", ptZip(t, append(append([]byte{opProto, 2}, tensorOps("0", 6, 0, []int{6}, []int{1})...), opStop), map[string][]byte{"0": six}),
			"single tensor, not a state_dict"},
		{"list", ptZip(t, []byte{opProto, 2, opEmptyList, opStop}, nil), "holds a list, not a state_dict"},
		{"two state dicts", ptZip(t, func() []byte {
			inner := append(append([]byte{opEmptyDict, opMark}, binUnicode("w")...), tensorOps("0", 6, 0, []int{6}, []int{1})...)
			inner = append(inner, opSetItems)
			return dictPickle("a_model", inner, "b_model", inner)
		}(), map[string][]byte{"0": six}), `several state dicts (under "a_model", "b_model")`},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "bad.pt")
		os.WriteFile(path, c.data, 0o644)
		_, err := Load(path)
		if err == nil || !strings.HasPrefix(err.Error(), "checkpoint: "+path+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v\nwant it to name the file and contain %q", c.name, err, c.want)
		}
	}
}

func TestWrapperAndPrefixHandling(t *testing.T) {
	six := map[string][]byte{"0": floats(0, 1, 2, 3, 4, 5)}
	w := tensorOps("0", 6, 0, []int{6}, []int{1})
	sdOps := func(names ...string) []byte {
		b := []byte{opEmptyDict, opMark}
		for _, n := range names {
			b = append(append(b, binUnicode(n)...), w...)
		}
		return append(b, opSetItems)
	}
	cases := []struct {
		name  string
		pkl   []byte
		names []string
	}{
		{"model key", dictPickle("epoch", []byte{opBinInt1, 3}, "model", sdOps("fc.weight")), []string{"fc.weight"}},
		{"net key", dictPickle("net", sdOps("module.fc.weight", "module.fc.bias")), []string{"fc.weight", "fc.bias"}},
		{"preferred key wins", dictPickle("ema", sdOps("x"), "state_dict", sdOps("y")), []string{"y"}},
		{"any single mapping", dictPickle("weights", sdOps("z"), "lr", []byte{opNone}), []string{"z"}},
		{"partial prefix kept", append(append([]byte{opProto, 2}, sdOps("module.a", "b")...), opStop), []string{"module.a", "b"}},
	}
	for _, c := range cases {
		data := ptZip(t, c.pkl, six)
		sd, err := readPT(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := sd.Names(); strings.Join(got, ",") != strings.Join(c.names, ",") {
			t.Errorf("%s: names %v, want %v", c.name, got, c.names)
		}
	}
}

func TestBigEndianPT(t *testing.T) {
	// The same file as written on a big-endian machine: byteorder "big" and
	// every storage byte-swapped.
	sizes := map[string]int{}
	ref, err := ReadPT("testdata/tiny.pt")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range ref.Entries {
		sizes["tiny/data/"+string(rune('0'+i))] = e.DType.Size()
	}
	data := rezip(t, "testdata/tiny.pt", func(name string, d []byte) ([]byte, bool) {
		if es := sizes[name]; es > 1 {
			d = append([]byte(nil), d...)
			for i := 0; i < len(d); i += es {
				for a, b := i, i+es-1; a < b; a, b = a+1, b-1 {
					d[a], d[b] = d[b], d[a]
				}
			}
		}
		return d, true
	}, map[string][]byte{"tiny/byteorder": []byte("big")})
	got, err := readPT(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	sameStateDict(t, "big-endian", got, ref)
}

func TestCorruptSafetensors(t *testing.T) {
	file := func(header string, data []byte) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		return append(append(b, header...), data...)
	}
	eight := make([]byte, 8)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "truncated: 3 bytes"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, 1<<40), "over the"},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "truncated: header says 100 bytes of JSON, file has 2"},
		{"not json", file(`{"a":`, nil), "not valid JSON"},
		{"array", file(`{`+`}`+`[]`, nil), "not valid JSON"},
		{"bad metadata", file(`{"__metadata__":{"a":1}}`, nil), "not a map of strings"},
		{"unknown dtype", file(`{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, eight), `tensor "a": unsupported dtype "F8_E4M3"`},
		{"no shape", file(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, eight), "no shape"},
		{"negative dim", file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, eight), "invalid dimension -1"},
		{"huge shape", file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}`, eight), "too large"},
		{"three offsets", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, eight), "must be [begin, end]"},
		{"reversed offsets", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, eight), "invalid data_offsets"},
		{"wrong span", file(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,4]}}`, eight), "shape [1] of F64 needs 8 bytes, data_offsets [0, 4] span 4"},
		{"overflowing span", file(`{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}}`, eight), "needs more than 2^63 bytes"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`, eight), `tensors "a" and "b" overlap`},
		{"past end", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}`, eight), "truncated: header says 12 bytes of data, file has 8"},
		{"record not object", file(`{"a":3}`, nil), `tensor "a": bad header record`},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "bad.safetensors")
		os.WriteFile(path, c.data, 0o644)
		_, _, err := ReadSafetensors(path)
		if err == nil || !strings.HasPrefix(err.Error(), "checkpoint: "+path+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v\nwant it to name the file and contain %q", c.name, err, c.want)
		}
	}
}

// TestHostileNamesAreQuoted: names read from a file (tensor names, dict
// keys, pickle globals) reach error messages quoted, with their newlines
// and terminal escapes escaped and very long names cut, so a file cannot
// forge lines of ebyd's output or clear the screen.
func TestHostileNamesAreQuoted(t *testing.T) {
	forged := "w\nebyd: import finished OK, clean acc 99.9%\x1b[2J"
	long := strings.Repeat("n", 10000)
	stFile := func(name string) []byte {
		header := `{"` + strings.NewReplacer("\n", `\n`, "\x1b", `\u001b`).Replace(name) + `":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		return append(append(b, header...), make([]byte, 8)...)
	}
	six := floats(0, 1, 2, 3, 4, 5)
	cases := []struct {
		name string
		file string
		data []byte
		want string
	}{
		{"safetensors name", "bad.safetensors", stFile(forged), `tensor "w\nebyd: import finished OK, clean acc 99.9%\x1b[2J": unsupported dtype`},
		{"long safetensors name", "bad.safetensors", stFile(long), `tensor "` + long[:200] + `"…: unsupported dtype`},
		{"dict key", "bad.pt", ptZip(t, dictPickle("w", tensorOps("0", 6, 0, []int{6}, []int{1}), forged, []byte{opBinInt1, 3}), map[string][]byte{"0": six}),
			`state_dict entry "w\nebyd: import finished OK, clean acc 99.9%\x1b[2J" has type int`},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), c.file)
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil {
			t.Fatalf("%s: loaded", c.name)
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "\n\r\x1b") {
			t.Errorf("%s: error holds raw control characters: %q", c.name, msg)
		}
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s: error %q\nwant it to contain %q", c.name, msg, c.want)
		}
		if len(msg) > 600 {
			t.Errorf("%s: error of %d bytes: long names must be cut", c.name, len(msg))
		}
	}
}
