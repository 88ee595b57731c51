package attack

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// wanetHashNoise is tools/fixtures/wanet.py's hash_noise: n values in
// [−1, 1), the top 24 bits of splitmix64(seed + (i+1)·golden), exact in float32.
func wanetHashNoise(n int, seed uint64) []float64 {
	out := make([]float64, n)
	for i := range out {
		x := seed + uint64(i+1)*0x9E3779B97F4A7C15
		x ^= x >> 30
		x *= 0xBF58476D1CE4E5B9
		x ^= x >> 27
		x *= 0x94D049BB133111EB
		x ^= x >> 31
		out[i] = float64(x>>40)/(1<<24)*2 - 1
	}
	return out
}

// wanetTestImage is tools/fixtures/wanet.py's test_image.
func wanetTestImage(s Shape) []uint8 {
	img := make([]uint8, s.Size())
	for y := range s.H {
		for x := range s.W {
			for c := range s.C {
				img[(y*s.W+x)*s.C+c] = uint8((x*7 + y*5 + c*60 + ((x/4+y/4)%2)*90) % 256)
			}
		}
	}
	return img
}

func readF32(t *testing.T, name string) []float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(b)/4)
	for i := range out {
		out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	}
	return out
}

// The exact-match criterion against PyTorch: PyTorch works in float32, ebyd
// in float64, so the values before rounding differ by a little (they must
// agree to wanetTol of a level); the bytes must be equal except where
// PyTorch's value is within wanetTol of a rounding boundary (a half), where
// either byte is right. Such ties must be rare (at most 1 % of the bytes).
const wanetTol = 1e-3

func TestWaNetMatchesPyTorch(t *testing.T) {
	for _, tc := range []struct {
		s     Shape
		k     int
		cross bool
	}{
		{Shape{28, 28, 1}, 4, false},
		{Shape{28, 28, 1}, 32, false},
		{Shape{32, 32, 3}, 4, false},
		{Shape{32, 32, 3}, 32, false},
		{Shape{28, 28, 1}, 4, true},
	} {
		name := fmt.Sprintf("wanet_%dx%dx%d_k%d", tc.s.H, tc.s.W, tc.s.C, tc.k)
		if tc.cross {
			name += "_cross"
		}
		t.Run(name, func(t *testing.T) {
			want := readF32(t, name+".f32")
			if len(want) != tc.s.Size() {
				t.Fatalf("fixture holds %d values, want %d", len(want), tc.s.Size())
			}
			w := &WaNet{K: tc.k, S: 0.5, GridRescale: 1}
			w.build(tc.s, wanetHashNoise(2*tc.k*tc.k, 1))
			taps := w.taps
			if tc.cross {
				taps = w.jitterTaps(wanetHashNoise(2*tc.s.H*tc.s.W, 7))
			}
			img := wanetTestImage(tc.s)
			got := w.warp(img, taps)
			bytes := slices.Clone(img)
			w.resample(bytes, taps)
			var maxDiff float64
			ties, moved := 0, 0
			for i, v := range want {
				maxDiff = max(maxDiff, math.Abs(got[i]-v))
				if math.Abs(v-math.Floor(v)-0.5) < wanetTol {
					ties++
					continue
				}
				if b := uint8(math.RoundToEven(v)); bytes[i] != b {
					t.Errorf("byte %d: %d, PyTorch %.6f", i, bytes[i], v)
				}
				if bytes[i] != img[i] {
					moved++
				}
			}
			t.Logf("max |ebyd − PyTorch| = %.2g of a level; %d of %d bytes near a half; %d changed by the warp",
				maxDiff, ties, len(want), moved)
			if maxDiff > wanetTol {
				t.Errorf("values differ from PyTorch's by up to %g, want < %g", maxDiff, wanetTol)
			}
			if ties > len(want)/100 {
				t.Errorf("%d of %d bytes are within %g of a half", ties, len(want), wanetTol)
			}
			if moved < len(want)/10 {
				t.Errorf("only %d of %d bytes change: the fixture does not exercise the warp", moved, len(want))
			}
		})
	}
}

// The bicubic upsampling by itself, against values worked out by hand: the
// row [0, 1] upsampled to 4 points with align_corners samples at 0, 1/3, 2/3
// and 1, the edge clamped (values 0, 0, 1, 1 at offsets −1, 0, 1, 2). With
// A = −0.75, near(x) = 1.25x³ − 2.25x² + 1 and far(x) = −0.75x³ + 3.75x² − 6x + 3:
// far(4/3) = −1/9, near(1/3) = 43/54, near(2/3) = 10/27, far(5/3) = −1/18,
// so the point at 1/3 is near(2/3) + far(5/3) = 17/54 and the one at 2/3 is
// 37/54.
func TestWaNetBicubic(t *testing.T) {
	got := bicubicAlignCorners([]float64{0, 1}, 1, 2, 1, 4)
	want := []float64{0, 17.0 / 54, 37.0 / 54, 1}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("sample %d: %v, want %v", i, got[i], want[i])
		}
	}
	if c, want := cubicCoeffs(1.0/3), [4]float64{-1.0 / 9, 43.0 / 54, 10.0 / 27, -1.0 / 18}; !slices.EqualFunc(c[:], want[:],
		func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }) {
		t.Errorf("weights at 1/3: %v, want %v", c, want)
	}
	// The weights sum to 1 and interpolate: identity at t = 0.
	for _, tt := range []float64{0, 0.25, 0.5, 0.9} {
		c := cubicCoeffs(tt)
		if s := c[0] + c[1] + c[2] + c[3]; math.Abs(s-1) > 1e-12 {
			t.Errorf("t=%v: weights sum to %v", tt, s)
		}
	}
	if c := cubicCoeffs(0); c != [4]float64{0, 1, 0, 0} {
		t.Errorf("t=0: weights %v, want 0 1 0 0", c)
	}
	// Same size: the identity.
	src := wanetHashNoise(16, 3)
	if got := bicubicAlignCorners(src, 4, 4, 4, 4); !slices.Equal(got, src) {
		t.Error("upsampling 4×4 to 4×4 is not the identity")
	}
}

func TestWaNetFixedAndDeterministic(t *testing.T) {
	s := Shape{32, 32, 3}
	w := mustNew(t, "wanet", s, "")
	a, b := ramp(s), ramp(s)
	w.Apply(a)
	w.Apply(b)
	if !slices.Equal(a, b) {
		t.Fatal("two applications to the same image differ")
	}
	if slices.Equal(a, ramp(s)) {
		t.Fatal("the warp left the image unchanged")
	}
	// One field for every image: a translated copy of the image differs, but
	// the warp of a constant image is constant (convex weights).
	flat := make([]uint8, s.Size())
	for i := range flat {
		flat[i] = 77
	}
	w.Apply(flat)
	for _, v := range flat {
		if v != 77 {
			t.Fatal("warping a constant image changed it")
		}
	}
	// Another seed, another field; the same seed, the same field.
	w2 := mustNew(t, "wanet", s, `{"seed": 2}`)
	c := ramp(s)
	w2.Apply(c)
	if slices.Equal(a, c) {
		t.Error("seeds 1 and 2 give the same warp")
	}
	// s = 0 is the identity warp: rounding (not truncation) keeps every byte.
	id := mustNew(t, "wanet", s, `{"s": 0}`)
	d := ramp(s)
	id.Apply(d)
	if !slices.Equal(d, ramp(s)) {
		t.Error("s = 0 changed the image")
	}
}

func TestWaNetCross(t *testing.T) {
	s := Shape{28, 28, 1}
	w := mustNew(t, "wanet", s, "").(*WaNet)
	if w.CrossRatio() != 2 {
		t.Errorf("cross ratio %v, want the paper's 2", w.CrossRatio())
	}
	img := wanetTestImage(s)
	bd := slices.Clone(img)
	w.Apply(bd)
	c1, c2 := slices.Clone(img), slices.Clone(img)
	w.Cross(c1, rand.New(rand.NewPCG(5, 6)))
	w.Cross(c2, rand.New(rand.NewPCG(5, 6)))
	if !slices.Equal(c1, c2) {
		t.Error("Cross with the same generator state differs")
	}
	if slices.Equal(c1, bd) || slices.Equal(c1, img) {
		t.Error("the noise-mode image equals the backdoor or the clean image")
	}
	c3 := slices.Clone(img)
	w.Cross(c3, rand.New(rand.NewPCG(5, 7)))
	if slices.Equal(c1, c3) {
		t.Error("Cross does not depend on the generator")
	}
	// Poison draws the noise-mode images among the clean ones.
	ds := tiny()
	tw := mustNew(t, "wanet", Shape{6, 6, 1}, "")
	got, err := Poison(ds, tw, Poisoning{Mode: All2One, Target: 1, Rate: 0.1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Indices) != 2 || len(got.Cross) != 4 {
		t.Errorf("%d poisoned and %d noise-mode images, want 2 and 4", len(got.Indices), len(got.Cross))
	}
}

func TestWaNetErrors(t *testing.T) {
	s := Shape{28, 28, 1}
	for _, p := range []string{`{"k": 0}`, `{"s": -1}`, `{"grid_rescale": 0}`, `{"cross_ratio": -1}`} {
		if _, err := New("wanet", s, []byte(p)); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}

func BenchmarkWaNetApply(b *testing.B) {
	s := Shape{32, 32, 3}
	tr, err := New("wanet", s, nil)
	if err != nil {
		b.Fatal(err)
	}
	img := ramp(s)
	for b.Loop() {
		tr.Apply(img)
	}
}
