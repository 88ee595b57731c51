package checkpoint

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"

	"ebyd/internal/atomicfile"
	"ebyd/internal/memlimit"
	"ebyd/internal/quote"
	"ebyd/internal/userfile"
	"ebyd/tensor"
)

// maxSafetensorsHeader bounds the JSON header (the reference implementation
// uses the same limit) so that a corrupt length cannot make us allocate
// gigabytes before noticing.
const maxSafetensorsHeader = 100 << 20

// metadataKey is the reserved header key for free-form string metadata.
const metadataKey = "__metadata__"

// ReadSafetensors reads a safetensors file: the tensors, in file order, and
// the header's __metadata__ strings (nil when absent).
func ReadSafetensors(path string) (*StateDict, map[string]string, error) {
	f, err := userfile.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	sd, md, err := readSafetensors(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return sd, md, nil
}

// safetensorsInfo is one tensor's header record.
type safetensorsInfo struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// stTensor is a validated header record.
type stTensor struct {
	name       string
	dtype      DType
	shape      []int
	begin, end int64
}

func readSafetensors(r io.ReaderAt, size int64) (*StateDict, map[string]string, error) {
	if size < 8 {
		return nil, nil, fmt.Errorf("truncated: %d bytes, too short for the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, nil, fmt.Errorf("reading header length: %w", err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > maxSafetensorsHeader {
		return nil, nil, fmt.Errorf("header length %d is over the %d-byte limit (not a safetensors file?)", hlen, maxSafetensorsHeader)
	}
	if int64(hlen) > size-8 {
		return nil, nil, fmt.Errorf("truncated: header says %d bytes of JSON, file has %d after the length", hlen, size-8)
	}
	header := make([]byte, hlen)
	if _, err := r.ReadAt(header, 8); err != nil {
		return nil, nil, fmt.Errorf("reading header: %w", err)
	}
	if len(header) == 0 || header[0] != '{' {
		return nil, nil, fmt.Errorf("header is not a JSON object (not a safetensors file?)")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, nil, fmt.Errorf("header is not valid JSON: %v", err)
	}

	var metadata map[string]string
	if m, ok := raw[metadataKey]; ok {
		if err := json.Unmarshal(m, &metadata); err != nil {
			return nil, nil, fmt.Errorf("%s is not a map of strings: %v", metadataKey, err)
		}
		delete(raw, metadataKey)
	}

	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names) // deterministic error messages
	dataLen := size - 8 - int64(hlen)
	tensors := make([]stTensor, 0, len(names))
	for _, name := range names {
		t, err := parseSafetensorsInfo(name, raw[name])
		if err != nil {
			return nil, nil, err
		}
		tensors = append(tensors, t)
	}

	// File order is data order: the header is a JSON object, whose key order
	// is not meaningful, so sort by offset.
	slices.SortFunc(tensors, func(a, b stTensor) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.name, b.name))
	})
	var maxEnd int64
	for i, t := range tensors {
		if i > 0 && t.begin < tensors[i-1].end {
			return nil, nil, fmt.Errorf("tensors %s and %s overlap (data_offsets [%d,%d] and [%d,%d])",
				quote.Name(tensors[i-1].name), quote.Name(t.name), tensors[i-1].begin, tensors[i-1].end, t.begin, t.end)
		}
		maxEnd = max(maxEnd, t.end)
	}
	if maxEnd > dataLen {
		return nil, nil, fmt.Errorf("truncated: header says %d bytes of data, file has %d", maxEnd, dataLen)
	}
	// Every tensor's bytes are in the file (checked above); as float32 they
	// may take twice as much (F16, BF16), and each is read through a buffer.
	var need, buf float64
	for _, t := range tensors {
		n := float64(t.end-t.begin) / float64(t.dtype.Size())
		need += 4 * n
		buf = max(buf, float64(t.end-t.begin))
	}
	if err := memlimit.Check(fmt.Sprintf("the file's %d tensors", len(tensors)), "as float32", need+buf); err != nil {
		return nil, nil, err
	}

	base := 8 + int64(hlen)
	sd := &StateDict{Entries: make([]Entry, 0, len(tensors))}
	for _, t := range tensors {
		buf := make([]byte, t.end-t.begin)
		if _, err := r.ReadAt(buf, base+t.begin); err != nil {
			return nil, nil, fmt.Errorf("tensor %s: reading data: %w", quote.Name(t.name), err)
		}
		data := make([]float32, len(buf)/t.dtype.Size())
		decode(t.dtype, binary.LittleEndian, buf, data)
		sd.Entries = append(sd.Entries, Entry{Name: t.name, DType: t.dtype, Tensor: &tensor.Tensor{Shape: t.shape, Data: data}})
	}
	if err := sd.Validate(); err != nil {
		return nil, nil, err
	}
	return sd, metadata, nil
}

// parseSafetensorsInfo validates one header record on its own: known dtype,
// sane shape, and a byte span that matches shape × dtype size.
func parseSafetensorsInfo(name string, raw json.RawMessage) (stTensor, error) {
	var info safetensorsInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return stTensor{}, fmt.Errorf("tensor %s: bad header record: %v", quote.Name(name), err)
	}
	dt := DType(info.DType)
	if !dt.Valid() {
		return stTensor{}, fmt.Errorf("tensor %s: unsupported dtype %s", quote.Name(name), quote.Name(info.DType))
	}
	if info.Shape == nil {
		return stTensor{}, fmt.Errorf("tensor %s: header record has no shape", quote.Name(name))
	}
	shape := make([]int, len(info.Shape))
	for i, d := range info.Shape {
		if d < 0 || int64(int(d)) != d {
			return stTensor{}, fmt.Errorf("tensor %s: invalid dimension %d in shape %v", quote.Name(name), d, info.Shape)
		}
		shape[i] = int(d)
	}
	n, ok := numel(shape)
	if !ok {
		return stTensor{}, fmt.Errorf("tensor %s: shape %v is too large", quote.Name(name), info.Shape)
	}
	if len(info.DataOffsets) != 2 {
		return stTensor{}, fmt.Errorf("tensor %s: data_offsets must be [begin, end], got %v", quote.Name(name), info.DataOffsets)
	}
	b, e := info.DataOffsets[0], info.DataOffsets[1]
	if b < 0 || e < b {
		return stTensor{}, fmt.Errorf("tensor %s: invalid data_offsets [%d, %d]", quote.Name(name), b, e)
	}
	es := int64(dt.Size())
	if n > (e-b)/es || n*es != e-b {
		return stTensor{}, fmt.Errorf("tensor %s: shape %v of %s needs %s bytes, data_offsets [%d, %d] span %d",
			quote.Name(name), shape, dt, bytesNeeded(n, es), b, e, e-b)
	}
	return stTensor{name: name, dtype: dt, shape: shape, begin: b, end: e}, nil
}

// bytesNeeded formats n*es without overflowing.
func bytesNeeded(n, es int64) string {
	if n > math.MaxInt64/es {
		return "more than 2^63"
	}
	return strconv.FormatInt(n*es, 10)
}

// WriteSafetensors writes sd to path as a safetensors file, atomically, with
// metadata (may be nil) in the header's __metadata__. Tensors are laid out
// contiguously in sd's order.
func WriteSafetensors(path string, sd *StateDict, metadata map[string]string) error {
	header, err := safetensorsHeader(sd, metadata)
	if err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	err = atomicfile.Write(path, func(w io.Writer) error {
		var lenBuf [8]byte
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
		if _, err := w.Write(lenBuf[:]); err != nil {
			return err
		}
		if _, err := w.Write(header); err != nil {
			return err
		}
		var buf []byte
		for _, e := range sd.Entries {
			var err error
			buf, err = encode(buf[:0], e.DType, e.Tensor.Data)
			if err != nil {
				return fmt.Errorf("tensor %s: %w", quote.Name(e.Name), err)
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return nil
}

// safetensorsHeader builds the JSON header by hand so that entries appear in
// state-dict order (encoding/json sorts map keys), padded with spaces to a
// multiple of 8 bytes as the reference writer does, which keeps the data
// section aligned.
func safetensorsHeader(sd *StateDict, metadata map[string]string) ([]byte, error) {
	if err := sd.Validate(); err != nil {
		return nil, err
	}
	var h bytes.Buffer
	h.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			h.WriteByte(',')
		}
		first = false
	}
	if len(metadata) > 0 {
		m, err := json.Marshal(metadata) // map keys come out sorted: deterministic
		if err != nil {
			return nil, err
		}
		sep()
		h.WriteString(`"` + metadataKey + `":`)
		h.Write(m)
	}
	var off int64
	for _, e := range sd.Entries {
		if e.Name == metadataKey {
			return nil, fmt.Errorf("tensor name %s is reserved in safetensors", quote.Name(metadataKey))
		}
		name, err := json.Marshal(e.Name)
		if err != nil {
			return nil, err
		}
		shape := e.Tensor.Shape
		if shape == nil {
			shape = []int{}
		}
		shapeJSON, _ := json.Marshal(shape)
		end := off + int64(len(e.Tensor.Data))*int64(e.DType.Size())
		sep()
		fmt.Fprintf(&h, `%s:{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`, name, e.DType, shapeJSON, off, end)
		off = end
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	return h.Bytes(), nil
}
