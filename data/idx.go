package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"ebyd/internal/userfile"
)

// IDX magic numbers: two zero bytes, type 0x08 (unsigned byte), number of dimensions.
const (
	idxMagicImages = 0x00000803
	idxMagicLabels = 0x00000801
)

// maxIDXBytes bounds the payload a header may announce, so a corrupt header
// cannot make the reader allocate or wait for an absurd amount of data.
const maxIDXBytes = 1 << 31

// maxDeflateRatio is deflate's largest expansion (258-byte matches coded in
// 2 bits); it caps up-front allocation for gzip input to what the compressed
// bytes could possibly hold.
const maxDeflateRatio = 1032

// DecodeIDXImages decodes an IDX image file (magic 0x00000803, n×rows×cols
// unsigned bytes), gzip-compressed or raw; gzip is recognised by its magic
// bytes, not by the name, which only labels errors. The returned pixels are
// freshly allocated, image-major and row-major.
func DecodeIDXImages(name string, b []byte) (pixels []uint8, n, rows, cols int, err error) {
	dims, body, err := decodeIDX(name, b, idxMagicImages, "images")
	if err != nil {
		return nil, 0, 0, 0, err
	}
	return body, dims[0], dims[1], dims[2], nil
}

// DecodeIDXLabels decodes an IDX label file (magic 0x00000801, n unsigned
// bytes), gzip-compressed or raw.
func DecodeIDXLabels(name string, b []byte) ([]int, error) {
	_, body, err := decodeIDX(name, b, idxMagicLabels, "labels")
	if err != nil {
		return nil, err
	}
	labels := make([]int, len(body))
	for i, v := range body {
		labels[i] = int(v)
	}
	return labels, nil
}

// ReadIDXImages reads and decodes an IDX image file; errors name the file's base name.
func ReadIDXImages(path string) (pixels []uint8, n, rows, cols int, err error) {
	b, err := readFile(path)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	return DecodeIDXImages(filepath.Base(path), b)
}

// ReadIDXLabels reads and decodes an IDX label file.
func ReadIDXLabels(path string) ([]int, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeIDXLabels(filepath.Base(path), b)
}

func readFile(path string) ([]byte, error) {
	b, err := userfile.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return b, nil
}

// decodeIDX checks the header against magic and returns the dimensions and
// exactly the payload they announce; short or overlong payloads are errors.
func decodeIDX(name string, b []byte, magic uint32, what string) (dims []int, body []byte, err error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("data: %s: "+format, append([]any{name}, args...)...)
	}
	r := &sourceReader{r: bytes.NewReader(b)}
	capHint := int64(len(b)) // a raw payload cannot exceed the file
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, nil, fail("%s", gzipError(err))
		}
		defer zr.Close()
		r.r = zr
		capHint = int64(len(b)) * maxDeflateRatio
	}
	// readFull reads len(p) bytes; a short read is the IDX content's fault
	// (truncated is called) unless the source itself failed, e.g. a gzip
	// stream cut short or with a bad checksum.
	readFull := func(p []byte, truncated func(k int) error) (int, error) {
		k, err := io.ReadFull(r, p)
		switch {
		case r.err != nil:
			return k, fail("%s", gzipError(r.err))
		case err != nil:
			return k, truncated(k)
		}
		return k, nil
	}

	var head [4]byte
	if _, err := readFull(head[:], func(k int) error {
		return fail("truncated: %d bytes, too short for an IDX header", k)
	}); err != nil {
		return nil, nil, err
	}
	got := binary.BigEndian.Uint32(head[:])
	if got != magic {
		return nil, nil, fail("not an IDX %s file: magic 0x%08x, want 0x%08x%s", what, got, magic, magicHint(got))
	}
	nd := int(magic & 0xff)
	raw := make([]byte, 4*nd)
	if _, err := readFull(raw, func(int) error {
		return fail("truncated: header ends before its %d dimensions", nd)
	}); err != nil {
		return nil, nil, err
	}
	dims = make([]int, nd)
	size, nonzero := int64(1), int64(1) // nonzero bounds every dimension, even when another is 0
	for i := range dims {
		d := int64(binary.BigEndian.Uint32(raw[4*i:]))
		dims[i] = int(d)
		size *= d
		if d > 0 {
			nonzero *= d
		}
		if nonzero > maxIDXBytes {
			for j := i + 1; j < nd; j++ {
				dims[j] = int(binary.BigEndian.Uint32(raw[4*j:]))
			}
			return nil, nil, fail("header says %s %s, more than the %d bytes this reader accepts", shape(dims), what, int64(maxIDXBytes))
		}
	}
	if nd == 3 && (dims[1] == 0 || dims[2] == 0) {
		return nil, nil, fail("header says %s %s: images must have rows and columns", shape(dims), what)
	}

	truncated := func(k int) error {
		return fail("truncated: header says %s %s (%d bytes), file holds %d after the header", shape(dims), what, size, k)
	}
	// Allocate no more up front than the input could possibly expand to, and
	// grow (only gzip input can need it) as data actually arrives.
	body = make([]byte, min(size, capHint))
	k, err := readFull(body, truncated)
	for err == nil && int64(k) < size {
		body = append(body[:k], make([]byte, min(size-int64(k), int64(k)+1))...)
		var m int
		m, err = readFull(body[k:], func(m int) error { return truncated(k + m) })
		k += m
	}
	if err != nil {
		return nil, nil, err
	}
	// Trailing bytes mean the header and payload disagree: report, don't guess.
	var one [1]byte
	m, err := readFull(one[:], func(int) error { return nil })
	if err != nil {
		return nil, nil, err // a gzip failure, e.g. a checksum mismatch, seen only at the end
	}
	if m > 0 {
		return nil, nil, fail("header says %s %s (%d bytes), but the file holds more", shape(dims), what, size)
	}
	return dims, body, nil
}

// gzipError says the gzip layer failed, without doubling the prefix that
// compress/gzip's own errors carry.
func gzipError(err error) string {
	if msg := err.Error(); strings.HasPrefix(msg, "gzip: ") {
		return msg
	}
	return "gzip: " + err.Error()
}

// sourceReader remembers the first error of its source other than io.EOF.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// shape formats the header's dimensions as 60000×28×28.
func shape(dims []int) string {
	s := ""
	for i, d := range dims {
		if i > 0 {
			s += "×"
		}
		s += fmt.Sprint(d)
	}
	return s
}

// magicHint explains the two common mix-ups: labels for images and vice versa.
func magicHint(got uint32) string {
	switch got {
	case idxMagicImages:
		return " (an images file)"
	case idxMagicLabels:
		return " (a labels file)"
	}
	if got>>8 == 0x08 {
		return fmt.Sprintf(" (unsigned bytes, %d dimensions)", got&0xff)
	}
	return ""
}
