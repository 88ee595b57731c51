package checkpoint

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

func TestHalfRoundTripsEveryValue(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := halfToFloat(uint16(h))
		if f != f {
			continue // NaN payloads need not survive
		}
		if got := floatToHalf(f); got != uint16(h) {
			t.Fatalf("half %#04x -> %v -> %#04x", h, f, got)
		}
	}
}

func TestFloatToHalfRounding(t *testing.T) {
	cases := []struct {
		f    float32
		want uint16
	}{
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},
		{65520, 0x7c00}, // halfway to the next (missing) value rounds to Inf
		{65519, 0x7bff},
		{1e10, 0x7c00},
		{float32(math.Inf(-1)), 0xfc00},
		{1 + 1.0/2048, 0x3c00},        // tie, rounds to even
		{1 + 3.0/2048, 0x3c02},        // tie, rounds to even (up)
		{1 + 1.0/2048 + 1e-7, 0x3c01}, // above the tie
		{5.960464477539063e-08, 0x0001},
		{2.9802322387695312e-08, 0x0000}, // half the smallest subnormal: tie to even (0)
		{4.4703483581542969e-08, 0x0001}, // 0.75 units of 2^-24 round to 1
		{6.103515625e-05, 0x0400},        // smallest normal
		{6.1e-05, 0x03ff},
	}
	for _, c := range cases {
		if got := floatToHalf(c.f); got != c.want {
			t.Errorf("floatToHalf(%v) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}

func TestBFloatRounding(t *testing.T) {
	cases := []struct {
		bits uint32
		want uint16
	}{
		{0x3f800000, 0x3f80},
		{0x3f808000, 0x3f80}, // tie, even
		{0x3f818000, 0x3f82}, // tie, even (up)
		{0x3f808001, 0x3f81},
		{0x7f7fffff, 0x7f80}, // max float rounds to Inf, as in torch
		{0xff800000, 0xff80},
	}
	for _, c := range cases {
		if got := floatToBFloat(math.Float32frombits(c.bits)); got != c.want {
			t.Errorf("floatToBFloat(%#08x) = %#04x, want %#04x", c.bits, got, c.want)
		}
	}
	if got := floatToBFloat(float32(math.NaN())); got&0x7f80 != 0x7f80 || got&0x7f == 0 {
		t.Errorf("NaN -> %#04x, not a NaN", got)
	}
}

func TestEncodeDecodeEveryDType(t *testing.T) {
	values := map[DType][]float32{
		F64:  {0, -1.5, 1e-40, 3.4e38},
		F32:  {0, -1.5, 1e-40, 3.4e38},
		F16:  {0, -1.5, 65504, 6e-8},
		BF16: {0, -1.5, 1e30, 1},
		I64:  {0, -1, 1 << 40, -(1 << 63), 1 << 63},
		I32:  {0, -1, math.MinInt32, 1 << 31},
		I16:  {0, -1, math.MinInt16, math.MaxInt16},
		I8:   {0, -1, -128, 127},
		U8:   {0, 1, 255},
		Bool: {0, 1, 1},
	}
	for dt, vs := range values {
		b, err := encode(nil, dt, vs)
		if err != nil {
			t.Fatalf("%s: %v", dt, err)
		}
		if len(b) != len(vs)*dt.Size() {
			t.Fatalf("%s: %d bytes for %d values", dt, len(b), len(vs))
		}
		got := make([]float32, len(vs))
		decode(dt, binary.LittleEndian, b, got)
		for i := range vs {
			want := vs[i]
			switch dt {
			case F16:
				want = halfToFloat(floatToHalf(want))
			case BF16:
				want = math.Float32frombits(uint32(floatToBFloat(want)) << 16)
			}
			if got[i] != want {
				t.Errorf("%s: %v came back as %v", dt, vs[i], got[i])
			}
		}
	}
}

func TestEncodeRefusesValuesOutsideIntegerDTypes(t *testing.T) {
	cases := []struct {
		dt DType
		v  float32
	}{
		{I64, 2.5}, {I64, float32(math.Inf(1))}, {I64, float32(math.NaN())}, {I64, 1 << 64},
		{I32, 1 << 32}, {I16, 32768}, {I8, -129}, {U8, -1}, {U8, 256}, {Bool, 2}, {Bool, 0.5},
	}
	for _, c := range cases {
		_, err := encode(nil, c.dt, []float32{c.v})
		if err == nil || !strings.Contains(err.Error(), string(c.dt)) {
			t.Errorf("encode(%s, %v) error %v, want one naming the dtype", c.dt, c.v, err)
		}
	}
}

func TestStorageNames(t *testing.T) {
	for _, dt := range []DType{F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool} {
		name := storageName(dt)
		if storageDTypes[name] != dt {
			t.Errorf("%s -> %q -> %s", dt, name, storageDTypes[name])
		}
	}
}
