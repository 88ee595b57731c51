package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"

	"ebyd/internal/quote"
)

// DType is the element type a tensor is stored with, spelled as in
// safetensors headers.
type DType string

// The dtypes that can be read and written. Values are converted to and from
// float32: every F16, BF16, I8, I16, U8 and BOOL value is exact in float32,
// I32 and I64 are exact up to ±2^24, and F64 is rounded to nearest.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	Bool DType = "BOOL"
)

// Size is the number of bytes per element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, Bool:
		return 1
	}
	return 0
}

// Valid reports whether d is one of the dtypes this package handles.
func (d DType) Valid() bool { return d.Size() != 0 }

func (d DType) isFloat() bool { return d == F64 || d == F32 || d == F16 || d == BF16 }

// decode converts len(dst) elements of dtype d from src, which holds at least
// len(dst)*d.Size() bytes in the given byte order.
func decode(d DType, order binary.ByteOrder, src []byte, dst []float32) {
	for i := range dst {
		dst[i] = decodeOne(d, order, src[i*d.Size():])
	}
}

// decodeOne converts the element at the start of b.
func decodeOne(d DType, order binary.ByteOrder, b []byte) float32 {
	switch d {
	case F64:
		return float32(math.Float64frombits(order.Uint64(b)))
	case F32:
		return math.Float32frombits(order.Uint32(b))
	case F16:
		return halfToFloat(order.Uint16(b))
	case BF16:
		return math.Float32frombits(uint32(order.Uint16(b)) << 16)
	case I64:
		return float32(int64(order.Uint64(b)))
	case I32:
		return float32(int32(order.Uint32(b)))
	case I16:
		return float32(int16(order.Uint16(b)))
	case I8:
		return float32(int8(b[0]))
	case U8:
		return float32(b[0])
	case Bool:
		if b[0] != 0 {
			return 1
		}
		return 0
	}
	panic("checkpoint: decode of unknown dtype " + string(d))
}

// encode appends the little-endian encoding of src as dtype d to dst. Integer
// and boolean dtypes only accept values they can hold: silently truncating
// 2.5 to 2 would corrupt a buffer without anyone noticing.
func encode(dst []byte, d DType, src []float32) ([]byte, error) {
	le := binary.LittleEndian
	for i, v := range src {
		if !d.isFloat() {
			if err := checkIntegral(d, v); err != nil {
				return dst, fmt.Errorf("element %d: %w", i, err)
			}
		}
		switch d {
		case F64:
			dst = le.AppendUint64(dst, math.Float64bits(float64(v)))
		case F32:
			dst = le.AppendUint32(dst, math.Float32bits(v))
		case F16:
			dst = le.AppendUint16(dst, floatToHalf(v))
		case BF16:
			dst = le.AppendUint16(dst, floatToBFloat(v))
		case I64:
			n := int64(math.MaxInt64)
			if v < 1<<63 {
				n = int64(v)
			}
			dst = le.AppendUint64(dst, uint64(n))
		case I32:
			n := int32(math.MaxInt32)
			if v < 1<<31 {
				n = int32(v)
			}
			dst = le.AppendUint32(dst, uint32(n))
		case I16:
			dst = le.AppendUint16(dst, uint16(int16(v)))
		case I8:
			dst = append(dst, byte(int8(v)))
		case U8, Bool:
			dst = append(dst, byte(v))
		default:
			return dst, fmt.Errorf("unsupported dtype %s", quote.Name(string(d)))
		}
	}
	return dst, nil
}

// checkIntegral checks that v is a value of integer dtype d. The largest I32
// and I64 values are not float32 numbers and round up to 2^31 and 2^63 when
// read, so those two are accepted (and saturate when encoded): a file read
// and written back keeps its maximum.
func checkIntegral(d DType, v float32) error {
	lo, hi := 0.0, 0.0
	switch d {
	case I64:
		lo, hi = -(1 << 63), 1<<63
	case I32:
		lo, hi = math.MinInt32, 1<<31
	case I16:
		lo, hi = math.MinInt16, math.MaxInt16
	case I8:
		lo, hi = math.MinInt8, math.MaxInt8
	case U8:
		lo, hi = 0, math.MaxUint8
	case Bool:
		lo, hi = 0, 1
	default:
		return fmt.Errorf("unsupported dtype %s", quote.Name(string(d)))
	}
	f := float64(v)
	if f != math.Trunc(f) || f < lo || f > hi {
		return fmt.Errorf("value %v is not a %s value", v, d)
	}
	return nil
}

// halfToFloat converts IEEE 754 binary16 bits to float32 (exact).
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN; keep the payload's high bits
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: value is mant * 2^-24
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// floatToHalf converts float32 to binary16 with round-to-nearest-even, as
// PyTorch's .half() does; values too large become ±Inf.
func floatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13) // quiet NaN
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half (or zero): shift the full significand so that the
		// result counts units of 2^-24, then round to nearest even.
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		half := m >> shift
		rem := m & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to Inf, which is right
	}
	return sign | uint16(h)
}

// floatToBFloat converts float32 to bfloat16 with round-to-nearest-even.
func floatToBFloat(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // quiet NaN
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// storageDTypes maps torch's legacy storage class names, which torch.save
// still writes into persistent ids, to dtypes.
var storageDTypes = map[string]DType{
	"DoubleStorage":   F64,
	"FloatStorage":    F32,
	"HalfStorage":     F16,
	"BFloat16Storage": BF16,
	"LongStorage":     I64,
	"IntStorage":      I32,
	"ShortStorage":    I16,
	"CharStorage":     I8,
	"ByteStorage":     U8,
	"BoolStorage":     Bool,
}

// storageName is the torch storage class for d.
func storageName(d DType) string {
	for name, dt := range storageDTypes {
		if dt == d {
			return name
		}
	}
	return ""
}
