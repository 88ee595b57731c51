package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"ebyd/internal/memlimit"
	"ebyd/internal/quote"
	"ebyd/tensor"
)

// maxPickleSize bounds data.pkl: a state_dict pickle is a few hundred bytes
// per tensor, so anything near this is not one. (A deflated data.pkl this
// large can sit in a file of a few hundred kilobytes.)
const maxPickleSize = 256 << 20

// ReadPT reads the state_dict saved in a PyTorch .pt/.pth file by
// torch.save: the zip format of torch >= 1.6 or the older legacy format.
// Common training-checkpoint wrappers are unwrapped: a top-level dict
// holding the state dict under "state_dict", "model_state_dict", "model" or
// "net" (or as its only name→tensor mapping). A "module." prefix on every key
// (torch.nn.DataParallel) is removed. Nothing in the file is executed: see
// the package documentation.
func ReadPT(path string) (*StateDict, error) { return readFile(path, readPT) }

func readPT(r io.ReaderAt, size int64) (*StateDict, error) {
	var head [512]byte
	n, _ := r.ReadAt(head[:], 0)
	switch detectFormat(head[:n]) {
	case formatZip:
		return readPTZip(r, size)
	case formatLegacy:
		return readPTLegacy(r, size)
	case formatTar:
		return nil, errors.New("the tar-based torch.save format of PyTorch < 0.4 is not supported; re-save the state_dict with a current PyTorch")
	}
	return nil, errors.New("not a PyTorch file: neither a torch.save zip nor the legacy torch.save format")
}

// readPTZip reads the torch.save zip: <dir>/data.pkl is the pickle and
// <dir>/data/<key> holds each storage's raw bytes.
func readPTZip(r io.ReaderAt, size int64) (*StateDict, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not a readable zip archive (truncated?): %w", err)
	}
	// The top folder is the saved file's stem ("archive" for streams), so
	// find it from the data.pkl entry rather than assuming a name.
	var pkl *zip.File
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, "/data.pkl") || strings.Count(f.Name, "/") != 1 {
			continue
		}
		if pkl != nil {
			return nil, fmt.Errorf("zip holds two pickles, %s and %s", quote.Name(pkl.Name), quote.Name(f.Name))
		}
		pkl = f
	}
	if pkl == nil {
		if hasEntry(zr, "constants.pkl") {
			return nil, errors.New("this is a TorchScript archive (torch.jit.save), not a torch.save state_dict; save model.state_dict() with torch.save")
		}
		return nil, errors.New("zip has no <dir>/data.pkl: not a torch.save file")
	}
	dir := strings.TrimSuffix(pkl.Name, "data.pkl")
	files := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		files[f.Name] = f
	}

	order := binary.ByteOrder(binary.LittleEndian)
	if f, ok := files[dir+"byteorder"]; ok {
		b, err := readZipEntry(f, 16)
		if err != nil {
			return nil, err
		}
		switch string(b) {
		case "little":
		case "big":
			order = binary.BigEndian
		default:
			return nil, fmt.Errorf("%s says %s, want little or big", quote.Name(f.Name), quote.Name(string(b)))
		}
	}

	data, err := readZipEntry(pkl, maxPickleSize)
	if err != nil {
		return nil, err
	}
	refs := map[string]*storageRef{}
	u := &unpickler{
		data:   data,
		global: torchGlobal,
		call:   torchCall,
		persistentLoad: func(pid any) (any, error) {
			return zipPersistentLoad(pid, refs)
		},
	}
	top, err := u.run()
	if err != nil {
		return nil, inPickle(pkl.Name, err)
	}
	entries, err := findStateDict(top)
	if err != nil {
		return nil, err
	}
	load := func(ref *storageRef) ([]byte, error) {
		f, ok := files[dir+"data/"+ref.key]
		if !ok {
			return nil, fmt.Errorf("storage %s is missing from the zip (no %s)", quote.Name(ref.key), quote.Name(dir+"data/"+ref.key))
		}
		want := uint64(ref.numel) * uint64(ref.dtype.Size())
		if f.UncompressedSize64 != want {
			return nil, fmt.Errorf("storage %s has %d bytes, want %d (%d × %s)", quote.Name(ref.key), f.UncompressedSize64, want, ref.numel, ref.dtype)
		}
		return readZipEntry(f, want)
	}
	return materialise(entries, load, order)
}

func hasEntry(zr *zip.Reader, name string) bool {
	for _, f := range zr.File {
		if f.Name == name || strings.HasSuffix(f.Name, "/"+name) {
			return true
		}
	}
	return false
}

// readZipEntry reads a whole entry of at most limit bytes. The buffer grows
// with the data actually read rather than trusting the declared size, and
// archive/zip checks the CRC and that the data match the declared size.
func readZipEntry(f *zip.File, limit uint64) ([]byte, error) {
	if f.UncompressedSize64 > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d expected", quote.Name(f.Name), f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", quote.Name(f.Name), err)
	}
	defer rc.Close()
	buf, err := io.ReadAll(io.LimitReader(rc, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", quote.Name(f.Name), err)
	}
	if uint64(len(buf)) != f.UncompressedSize64 {
		return nil, fmt.Errorf("%s: %d bytes, the zip directory says %d", quote.Name(f.Name), len(buf), f.UncompressedSize64)
	}
	return buf, nil
}

// errPickledModule is for persistent ids that carry a module's source code,
// which torch.save wrote when saving whole models in old versions.
var errPickledModule = errors.New(`the file holds a pickled module with its source code, not a state_dict: load the model in Python and save torch.save(model.state_dict(), "model.pt")`)

// zipPersistentLoad resolves ('storage', storage_type, key, location, numel).
// The same key always yields the same storage, so tensors sharing storage
// (views, tied weights) stay consistent.
func zipPersistentLoad(pid any, refs map[string]*storageRef) (any, error) {
	t, ok := pid.(*pyTuple)
	if ok && len(t.items) > 0 && t.items[0] == "module" {
		return nil, errPickledModule
	}
	if !ok || len(t.items) != 5 {
		return nil, fmt.Errorf("persistent id is a %s, want ('storage', type, key, location, numel)", pyTypeName(pid))
	}
	return storageFromPID(t.items[:5], refs)
}

// storageFromPID checks ('storage', storage_type, key, location, numel).
func storageFromPID(items []any, refs map[string]*storageRef) (*storageRef, error) {
	if kind, _ := items[0].(string); kind != "storage" {
		return nil, fmt.Errorf("persistent id of kind %s, want 'storage'", quote.Value(items[0]))
	}
	dt, err := storageDType(items[1])
	if err != nil {
		return nil, err
	}
	key, ok := items[2].(string)
	if !ok {
		return nil, fmt.Errorf("storage key is a %s, not a str", pyTypeName(items[2]))
	}
	n, ok := asInt(items[4])
	// Bounding numel keeps every later byte count and index sum in int64.
	if !ok || n < 0 || n > math.MaxInt64/16 {
		return nil, fmt.Errorf("storage %s has invalid size %s", quote.Name(key), quote.Value(items[4]))
	}
	if ref, ok := refs[key]; ok {
		if ref.dtype != dt || ref.numel != n {
			return nil, fmt.Errorf("storage %s is used as %d × %s and as %d × %s", quote.Name(key), ref.numel, ref.dtype, n, dt)
		}
		return ref, nil
	}
	ref := &storageRef{key: key, dtype: dt, numel: n}
	refs[key] = ref
	return ref, nil
}

// wrapperKeys are where training scripts commonly keep the state dict in a
// checkpoint dict, in order of preference.
var wrapperKeys = []string{"state_dict", "model_state_dict", "model", "net", "state_dict_ema"}

// pendingEntry is a state dict entry whose tensor is not yet materialised.
type pendingEntry struct {
	name string
	t    *ptTensor
}

// findStateDict picks the name→tensor mapping out of what the pickle built.
func findStateDict(top any) ([]pendingEntry, error) {
	d, ok := top.(*pyDict)
	if !ok {
		if _, isTensor := top.(*ptTensor); isTensor {
			return nil, errors.New("the file holds a single tensor, not a state_dict")
		}
		return nil, fmt.Errorf("the file holds a %s, not a state_dict", pyTypeName(top))
	}
	if len(d.keys) == 0 {
		return nil, nil
	}
	if entries, ok := tensorMap(d); ok {
		return stripPrefix(entries), nil
	}
	for _, k := range wrapperKeys {
		if v, ok := d.get(k); ok {
			if inner, ok := v.(*pyDict); ok {
				if entries, ok := tensorMap(inner); ok {
					return stripPrefix(entries), nil
				}
			}
		}
	}
	// Otherwise accept a single name→tensor mapping under any key.
	var found []pendingEntry
	var foundKeys []string
	for i, v := range d.vals {
		if inner, ok := v.(*pyDict); ok {
			if entries, ok := tensorMap(inner); ok {
				found = entries
				foundKeys = append(foundKeys, quote.Value(d.keys[i]))
			}
		}
	}
	switch {
	case len(foundKeys) == 1:
		return stripPrefix(found), nil
	case len(foundKeys) > 1:
		return nil, fmt.Errorf("the checkpoint holds several state dicts (under %s); cannot tell which is the model", strings.Join(foundKeys, ", "))
	}
	// A dict with some tensors but other values too is most likely a state
	// dict with an extra entry: say which entry is wrong.
	hasTensor := false
	for _, v := range d.vals {
		if _, ok := v.(*ptTensor); ok {
			hasTensor = true
			break
		}
	}
	if hasTensor {
		for i, v := range d.vals {
			if _, ok := v.(*ptTensor); !ok {
				return nil, fmt.Errorf("state_dict entry %s has type %s, not a tensor", quote.Value(d.keys[i]), pyTypeName(v))
			}
		}
	}
	keys := make([]string, 0, len(d.keys))
	for _, k := range d.keys {
		keys = append(keys, quote.Value(k))
	}
	return nil, fmt.Errorf("no state_dict found: the top-level dict has keys %s", strings.Join(keys, ", "))
}

// tensorMap returns d's entries if it is a non-empty map of str → tensor.
func tensorMap(d *pyDict) ([]pendingEntry, bool) {
	if len(d.keys) == 0 {
		return nil, false
	}
	entries := make([]pendingEntry, len(d.keys))
	for i, k := range d.keys {
		name, ok := k.(string)
		t, ok2 := d.vals[i].(*ptTensor)
		if !ok || !ok2 {
			return nil, false
		}
		entries[i] = pendingEntry{name, t}
	}
	return entries, true
}

// stripPrefix removes the "module." that torch.nn.DataParallel and
// DistributedDataParallel put on every key. Only when every key has it: a
// model may have a submodule that happens to be called "module".
func stripPrefix(entries []pendingEntry) []pendingEntry {
	const prefix = "module."
	for _, e := range entries {
		if !strings.HasPrefix(e.name, prefix) {
			return entries
		}
	}
	for i := range entries {
		entries[i].name = strings.TrimPrefix(entries[i].name, prefix)
	}
	return entries
}

// materialise copies each kept tensor view out of its storage into a dense
// float32 tensor. Storage bytes are read once and shared by the views on them.
//
// Views can repeat elements (zero strides, several tensors on one storage),
// so the elements produced are budgeted: 2^20 plus four per storage element
// actually read. Legitimate views (slices, tied weights, small expanded
// buffers) fit; a small file asking for terabytes does not.
//
// Before anything is read, the bytes of the storages and of the float32
// tensors are checked against the memory limit (internal/memlimit): a
// deflated storage of gigabytes fits in a small zip.
func materialise(entries []pendingEntry, load func(*storageRef) ([]byte, error), order binary.ByteOrder) (*StateDict, error) {
	budget := int64(1 << 20)
	need := 0.0
	counted := map[*storageRef]bool{}
	for _, e := range entries {
		t := e.t
		n, _ := numel(t.shape) // checked by rebuildTensor
		if !counted[t.storage] && n > 0 {
			counted[t.storage] = true
			budget += 4 * t.storage.numel
			need += float64(t.storage.numel) * float64(t.storage.dtype.Size())
		}
		if n > budget {
			return nil, fmt.Errorf("tensor %s: view of %d elements repeats its storage of %d elements out of proportion", quote.Name(e.name), n, t.storage.numel)
		}
		budget -= n
		need += 4 * float64(n)
	}
	if err := memlimit.Check(fmt.Sprintf("the state_dict's %d tensors", len(entries)), "to load (storage bytes and float32 values)", need); err != nil {
		return nil, err
	}
	cache := map[*storageRef][]byte{}
	sd := &StateDict{Entries: make([]Entry, 0, len(entries))}
	for _, e := range entries {
		t := e.t
		n, _ := numel(t.shape)
		raw, ok := cache[t.storage]
		if !ok && n > 0 {
			var err error
			raw, err = load(t.storage)
			if err != nil {
				return nil, fmt.Errorf("tensor %s: %w", quote.Name(e.name), err)
			}
			if int64(len(raw)) != t.storage.numel*int64(t.storage.dtype.Size()) {
				return nil, fmt.Errorf("tensor %s: storage %s has %d bytes, want %d × %s", quote.Name(e.name), quote.Name(t.storage.key), len(raw), t.storage.numel, t.storage.dtype)
			}
			cache[t.storage] = raw
		}
		data := make([]float32, n)
		gather(t, raw, order, data)
		sd.Entries = append(sd.Entries, Entry{Name: e.name, DType: t.storage.dtype, Tensor: &tensor.Tensor{Shape: t.shape, Data: data}})
	}
	// Whatever is loaded can be saved again (no empty names, for one).
	if err := sd.Validate(); err != nil {
		return nil, err
	}
	return sd, nil
}

// gather decodes the view t of the storage bytes raw into dst in row-major
// order. Contiguous views, the common case, are decoded in one pass.
func gather(t *ptTensor, raw []byte, order binary.ByteOrder, dst []float32) {
	if len(dst) == 0 {
		return
	}
	dt := t.storage.dtype
	es := int64(dt.Size())
	contiguous, want := true, int64(1)
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] != 1 && t.stride[i] != want {
			contiguous = false
			break
		}
		want *= int64(t.shape[i])
	}
	if contiguous {
		decode(dt, order, raw[t.offset*es:], dst)
		return
	}
	idx := make([]int, len(t.shape))
	pos := t.offset
	for i := range dst {
		dst[i] = decodeOne(dt, order, raw[pos*es:])
		// Advance the multi-index like an odometer.
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			pos += t.stride[d]
			if idx[d] < t.shape[d] {
				break
			}
			pos -= int64(idx[d]) * t.stride[d]
			idx[d] = 0
		}
	}
}

// fileFormat is what the first bytes of a file say it is.
type fileFormat int

const (
	formatUnknown fileFormat = iota
	formatZip
	formatLegacy
	formatTar
	formatSafetensors
)

// legacyMagic is how the legacy torch.save format starts: a pickle of
// torch's magic number 0x1950a86a20f9469cfc6c, as LONG1. It comes right
// after PROTO 2 by default, after a FRAME with pickle_protocol >= 4.
var legacyMagic = []byte{0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

func detectFormat(head []byte) fileFormat {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return formatZip
	case len(head) > 0 && head[0] == opProto && bytes.Contains(head[:min(len(head), 32)], legacyMagic):
		return formatLegacy
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return formatTar
	case len(head) >= 9 && head[8] == '{':
		return formatSafetensors
	}
	return formatUnknown
}
