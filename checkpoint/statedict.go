package checkpoint

import (
	"fmt"
	"math"

	"ebyd/internal/quote"
	"ebyd/tensor"
)

// Entry is one named tensor of a state dict. DType is how the values are (or
// will be) stored in a file; Tensor always holds them as float32.
type Entry struct {
	Name   string
	DType  DType
	Tensor *tensor.Tensor
}

// StateDict is an ordered set of named tensors, the Go counterpart of a
// PyTorch model's state_dict(). The zero value is an empty state dict.
//
// Lookups scan the entries: state dicts hold at most a few hundred entries,
// and a plain slice keeps Entries safe to edit directly.
type StateDict struct {
	Entries []Entry
}

// Len is the number of entries.
func (sd *StateDict) Len() int { return len(sd.Entries) }

// Names returns the entry names in order.
func (sd *StateDict) Names() []string {
	names := make([]string, len(sd.Entries))
	for i, e := range sd.Entries {
		names[i] = e.Name
	}
	return names
}

// Lookup returns the entry called name.
func (sd *StateDict) Lookup(name string) (Entry, bool) {
	for _, e := range sd.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Get returns the tensor called name.
func (sd *StateDict) Get(name string) (*tensor.Tensor, bool) {
	e, ok := sd.Lookup(name)
	return e.Tensor, ok
}

// Set stores t under name with dtype d, replacing an entry of that name in
// place or appending a new one. The tensor is not copied.
func (sd *StateDict) Set(name string, d DType, t *tensor.Tensor) {
	for i := range sd.Entries {
		if sd.Entries[i].Name == name {
			sd.Entries[i] = Entry{Name: name, DType: d, Tensor: t}
			return
		}
	}
	sd.Entries = append(sd.Entries, Entry{Name: name, DType: d, Tensor: t})
}

// Validate checks what every writer needs: non-empty unique names, known
// dtypes, and tensors whose data fill their shapes.
func (sd *StateDict) Validate() error {
	seen := make(map[string]bool, len(sd.Entries))
	for i, e := range sd.Entries {
		switch {
		case e.Name == "":
			return fmt.Errorf("entry %d has an empty name", i)
		case seen[e.Name]:
			return fmt.Errorf("entry %s appears twice", quote.Name(e.Name))
		case !e.DType.Valid():
			return fmt.Errorf("entry %s has unsupported dtype %s", quote.Name(e.Name), quote.Name(string(e.DType)))
		case e.Tensor == nil:
			return fmt.Errorf("entry %s has no tensor", quote.Name(e.Name))
		}
		seen[e.Name] = true
		n, ok := numel(e.Tensor.Shape)
		if !ok {
			return fmt.Errorf("entry %s has invalid shape %v", quote.Name(e.Name), e.Tensor.Shape)
		}
		if n != int64(len(e.Tensor.Data)) {
			return fmt.Errorf("entry %s: %d values do not fill shape %v", quote.Name(e.Name), len(e.Tensor.Data), e.Tensor.Shape)
		}
	}
	return nil
}

// numel is the element count of shape, or false when a dimension is negative
// or the count overflows: shapes come from untrusted files.
func numel(shape []int) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > math.MaxInt64/int64(d) {
			return 0, false
		}
		n *= int64(d)
	}
	return n, true
}
