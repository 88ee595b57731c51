package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"ebyd/internal/memlimit"
	"ebyd/internal/quote"
)

// maxLegacySize bounds the legacy format, which is read into memory whole.
const maxLegacySize = 8 << 30

// readPTLegacy reads the format torch.save wrote before PyTorch 1.6 (and
// still writes with _use_new_zipfile_serialization=False): five pickles in a
// row (magic number, protocol version 1001, system info, the object, the
// list of storage keys), then each storage as an int64 element count and its
// raw bytes, in the order of the key list.
func readPTLegacy(r io.ReaderAt, size int64) (*StateDict, error) {
	if size > maxLegacySize {
		return nil, fmt.Errorf("legacy torch.save file of %d bytes is over the %d-byte limit", size, int64(maxLegacySize))
	}
	if err := memlimit.Check(fmt.Sprintf("a legacy torch.save file of %d bytes", size), "to read whole", float64(size)); err != nil {
		return nil, err
	}
	data := make([]byte, size)
	if _, err := r.ReadAt(data, 0); err != nil && err != io.EOF {
		return nil, err
	}
	plain := &unpickler{data: data, global: torchGlobal, call: torchCall}
	next := func(what string) (any, error) {
		plain.stack, plain.marks, plain.memo = nil, nil, nil
		v, err := plain.run()
		if err != nil {
			return nil, inPickle("legacy torch.save "+what, err)
		}
		return v, nil
	}
	if _, err := next("magic number"); err != nil {
		return nil, err
	}
	proto, err := next("protocol version")
	if err != nil {
		return nil, err
	}
	if p, _ := asInt(proto); p != 1001 {
		return nil, fmt.Errorf("legacy torch.save protocol version %s, want 1001", quote.Value(proto))
	}
	info, err := next("system info")
	if err != nil {
		return nil, err
	}
	order := binary.ByteOrder(binary.LittleEndian)
	if d, ok := info.(*pyDict); ok {
		if le, ok := d.get("little_endian"); ok && le == false {
			order = binary.BigEndian
		}
	}

	refs := map[string]*storageRef{}
	main := &unpickler{
		data: data, pos: plain.pos, global: torchGlobal, call: torchCall,
		persistentLoad: func(pid any) (any, error) {
			// ('storage', storage_type, key, location, numel, view_metadata)
			t, ok := pid.(*pyTuple)
			if ok && len(t.items) >= 1 && t.items[0] == "module" {
				return nil, errPickledModule
			}
			if !ok || len(t.items) != 6 {
				return nil, fmt.Errorf("persistent id is a %s, want ('storage', type, key, location, numel, view)", pyTypeName(pid))
			}
			if t.items[5] != nil {
				return nil, errors.New("legacy storage views are not supported; re-save the state_dict with a current PyTorch")
			}
			return storageFromPID(t.items[:5], refs)
		},
	}
	top, err := main.run()
	if err != nil {
		return nil, inPickle("legacy torch.save object", err)
	}
	plain.pos = main.pos
	keysV, err := next("storage keys")
	if err != nil {
		return nil, err
	}
	keys, ok := keysV.(*pyList)
	if !ok {
		return nil, fmt.Errorf("legacy torch.save storage keys are a %s, not a list", pyTypeName(keysV))
	}

	// Locate every storage: they follow each other in key order.
	spans := map[*storageRef][]byte{}
	pos := int64(plain.pos)
	for _, k := range keys.items {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("legacy storage key is a %s", pyTypeName(k))
		}
		ref, ok := refs[key]
		if !ok {
			return nil, fmt.Errorf("legacy storage %s is listed but used by no tensor", quote.Name(key))
		}
		if size-pos < 8 {
			return nil, fmt.Errorf("truncated: storage %s starts at byte %d, file has %d", quote.Name(key), pos, size)
		}
		n := int64(order.Uint64(data[pos:]))
		if n != ref.numel {
			return nil, fmt.Errorf("legacy storage %s holds %d elements, the pickle says %d", quote.Name(key), n, ref.numel)
		}
		nb := n * int64(ref.dtype.Size())
		pos += 8
		if nb > size-pos {
			return nil, fmt.Errorf("truncated: storage %s needs %d bytes at byte %d, file has %d", quote.Name(key), nb, pos, size)
		}
		spans[ref] = data[pos : pos+nb]
		pos += nb
	}

	entries, err := findStateDict(top)
	if err != nil {
		return nil, err
	}
	load := func(ref *storageRef) ([]byte, error) {
		b, ok := spans[ref]
		if !ok {
			return nil, fmt.Errorf("storage %s is not in the file's storage list", quote.Name(ref.key))
		}
		return b, nil
	}
	return materialise(entries, load, order)
}
