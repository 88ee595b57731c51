package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"

	"ebyd/internal/atomicfile"
	"ebyd/internal/quote"
)

// ptArchive is the top folder of written .pt zips; torch uses the same
// name when saving to a stream and accepts any.
const ptArchive = "archive"

// ptAlign is the data alignment torch's own writer uses for zip entries, so
// that storages can be memory-mapped.
const ptAlign = 64

// WritePT writes sd as a torch.save zip that torch.load returns as an
// OrderedDict of tensors with the same names, shapes, dtypes and values
// (checked against PyTorch 1.13). The write is atomic.
func WritePT(path string, sd *StateDict) error {
	if err := sd.Validate(); err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	err := atomicfile.Write(path, func(w io.Writer) error {
		return writePT(w, sd)
	})
	if err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return nil
}

// ptStorage is one tensor's storage as written: contiguous, offset 0.
type ptStorage struct {
	name  string
	dtype DType
	shape []int
}

func writePT(w io.Writer, sd *StateDict) error {
	storages := make([]ptStorage, len(sd.Entries))
	for i, e := range sd.Entries {
		if storageName(e.DType) == "" {
			return fmt.Errorf("tensor %s: dtype %s has no torch storage type", quote.Name(e.Name), e.DType)
		}
		storages[i] = ptStorage{e.Name, e.DType, e.Tensor.Shape}
	}
	z := newAlignedZip(w)
	if err := z.add(ptArchive+"/data.pkl", statePickle(storages)); err != nil {
		return err
	}
	if err := z.add(ptArchive+"/byteorder", []byte("little")); err != nil {
		return err
	}
	var buf []byte
	for i, e := range sd.Entries {
		var err error
		buf, err = encode(buf[:0], e.DType, e.Tensor.Data)
		if err != nil {
			return fmt.Errorf("tensor %s: %w", quote.Name(e.Name), err)
		}
		if err := z.add(ptArchive+"/data/"+strconv.Itoa(i), buf); err != nil {
			return err
		}
	}
	// File format version 3 is what torch 1.6 to 2.x write.
	if err := z.add(ptArchive+"/version", []byte("3\n")); err != nil {
		return err
	}
	return z.close()
}

// alignedZip writes stored (uncompressed) entries whose data start on a
// ptAlign boundary, padding the local header's extra field as torch does.
type alignedZip struct {
	cw *countingWriter
	zw *zip.Writer
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newAlignedZip(w io.Writer) *alignedZip {
	cw := &countingWriter{w: w}
	return &alignedZip{cw: cw, zw: zip.NewWriter(cw)}
}

func (z *alignedZip) add(name string, data []byte) error {
	// Flush so that the counter is the true offset of the next header.
	if err := z.zw.Flush(); err != nil {
		return err
	}
	const localHeader = 30 // fixed part of a zip local file header
	const extraHeader = 4  // id and length of the padding extra field
	start := z.cw.n + localHeader + int64(len(name)) + extraHeader
	pad := (ptAlign - start%ptAlign) % ptAlign
	extra := make([]byte, extraHeader+pad)
	copy(extra, "FB") // torch's padding field id
	binary.LittleEndian.PutUint16(extra[2:], uint16(pad))
	for i := extraHeader; i < len(extra); i++ {
		extra[i] = 'Z'
	}
	fh := &zip.FileHeader{
		Name:               name,
		Method:             zip.Store,
		CRC32:              crc32.ChecksumIEEE(data),
		CompressedSize64:   uint64(len(data)),
		UncompressedSize64: uint64(len(data)),
		Extra:              extra,
	}
	// CreateRaw writes sizes and CRC in the local header (no data
	// descriptor) and leaves Extra as given when Modified is zero.
	fw, err := z.zw.CreateRaw(fh)
	if err != nil {
		return err
	}
	_, err = fw.Write(data)
	return err
}

func (z *alignedZip) close() error { return z.zw.Close() }

// statePickle is the protocol-2 pickle torch.save writes for an
// OrderedDict of tensors:
//
//	OrderedDict([(name, _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())), ...])
//
// where storage is the persistent id ('storage', torch.XStorage, key, 'cpu', numel).
func statePickle(storages []ptStorage) []byte {
	var p pickleWriter
	p.op(opProto, 2)
	p.global("collections", "OrderedDict")
	p.op(opEmptyTuple, opReduce, opMark)
	for i, s := range storages {
		p.str(s.name)
		p.global("torch._utils", "_rebuild_tensor_v2")
		p.op(opMark, opMark)
		p.str("storage")
		p.global("torch", storageName(s.dtype))
		p.str(strconv.Itoa(i))
		p.str("cpu")
		n, _ := numel(s.shape) // checked by Validate
		p.int(n)
		p.op(opTuple, opBinPersID)
		p.int(0)
		p.tuple(s.shape)
		p.tuple(contiguousStrides(s.shape))
		p.op(opNewFalse)
		p.global("collections", "OrderedDict")
		p.op(opEmptyTuple, opReduce, opTuple, opReduce)
	}
	p.op(opSetItems, opStop)
	return p.buf.Bytes()
}

func contiguousStrides(shape []int) []int {
	strides := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		strides[i] = s
		s *= max(shape[i], 1)
	}
	return strides
}

// pickleWriter emits pickle opcodes. Globals are memoised so that each
// appears once in the file, as with Python's pickler.
type pickleWriter struct {
	buf  bytes.Buffer
	memo map[string]uint32
}

func (p *pickleWriter) op(ops ...byte) { p.buf.Write(ops) }

func (p *pickleWriter) str(s string) {
	p.buf.WriteByte(opBinUnicode)
	p.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.buf.WriteString(s)
}

func (p *pickleWriter) int(n int64) {
	switch {
	case n >= 0 && n < 1<<8:
		p.buf.WriteByte(opBinInt1)
		p.buf.WriteByte(byte(n))
	case n >= 0 && n < 1<<16:
		p.buf.WriteByte(opBinInt2)
		p.buf.Write(binary.LittleEndian.AppendUint16(nil, uint16(n)))
	case n >= -1<<31 && n < 1<<31:
		p.buf.WriteByte(opBinInt)
		p.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(n)))
	default:
		p.buf.Write([]byte{opLong1, 8})
		p.buf.Write(binary.LittleEndian.AppendUint64(nil, uint64(n)))
	}
}

func (p *pickleWriter) tuple(xs []int) {
	if len(xs) == 0 {
		p.op(opEmptyTuple)
		return
	}
	p.op(opMark)
	for _, x := range xs {
		p.int(int64(x))
	}
	p.op(opTuple)
}

func (p *pickleWriter) global(module, name string) {
	key := module + "\n" + name + "\n"
	if idx, ok := p.memo[key]; ok {
		p.get(idx)
		return
	}
	if p.memo == nil {
		p.memo = map[string]uint32{}
	}
	idx := uint32(len(p.memo))
	p.memo[key] = idx
	p.buf.WriteByte(opGlobal)
	p.buf.WriteString(key)
	p.put(idx)
}

func (p *pickleWriter) put(idx uint32) { p.memoOp(opBinPut, opLongBinPut, idx) }

func (p *pickleWriter) get(idx uint32) { p.memoOp(opBinGet, opLongBinGet, idx) }

// memoOp writes a memo opcode: the one-byte form below 256, else the long one.
func (p *pickleWriter) memoOp(short, long byte, idx uint32) {
	if idx < 256 {
		p.op(short, byte(idx))
		return
	}
	p.buf.WriteByte(long)
	p.buf.Write(binary.LittleEndian.AppendUint32(nil, idx))
}
