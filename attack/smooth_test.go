package attack

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

// smoothDCT2 is the 2-D DCT-II of channel c of an H×W×C float image, written out
// as the plain double sum: X(u, v) = Σ_y Σ_x p(y, x)·cos(π(2y+1)u/2H)·cos(π(2x+1)v/2W).
func smoothDCT2(p []float64, s Shape, c int) [][]float64 {
	out := make([][]float64, s.H)
	for u := range s.H {
		out[u] = make([]float64, s.W)
		for v := range s.W {
			var sum float64
			for y := range s.H {
				for x := range s.W {
					sum += p[(y*s.W+x)*s.C+c] *
						math.Cos(math.Pi*float64(2*y+1)*float64(u)/float64(2*s.H)) *
						math.Cos(math.Pi*float64(2*x+1)*float64(v)/float64(2*s.W))
				}
			}
			out[u][v] = sum
		}
	}
	return out
}

func smoothPattern(t *testing.T, s Shape, params string) []float64 {
	t.Helper()
	return mustNew(t, "smooth", s, params).(*Smooth).pat
}

func TestSmoothLowFrequency(t *testing.T) {
	for _, tc := range []struct {
		s Shape
		k int
	}{{Shape{32, 32, 3}, 4}, {Shape{28, 28, 1}, 4}, {Shape{16, 12, 1}, 3}} {
		params := ""
		if tc.k != 4 {
			params = `{"freqs": 3}`
		}
		pat := smoothPattern(t, tc.s, params)
		lo, hi := slices.Min(pat), slices.Max(pat)
		if lo != 0 || math.Abs(hi-0.2) > 1e-15 {
			t.Errorf("%v: pattern spans [%g, %g], want [0, 0.2]", tc.s, lo, hi)
		}
		for c := range tc.s.C {
			X := smoothDCT2(pat, tc.s, c)
			var in, out float64
			for u := range tc.s.H {
				for v := range tc.s.W {
					e := X[u][v] * X[u][v]
					if u < tc.k && v < tc.k {
						in += e
						if u+v > 0 && math.Abs(X[u][v]) < 1e-6 {
							t.Errorf("%v channel %d: coefficient (%d, %d) is %g, want a random non-zero one", tc.s, c, u, v, X[u][v])
						}
					} else {
						out += e
					}
				}
			}
			if out > 1e-24*in || in == 0 {
				t.Errorf("%v channel %d: DCT energy %g inside the %d×%d corner, %g outside", tc.s, c, in, tc.k, tc.k, out)
			}
		}
	}
	// A pattern with 8×8 frequencies has energy beyond 4×4.
	s := Shape{32, 32, 1}
	X := smoothDCT2(smoothPattern(t, s, `{"freqs": 8}`), s, 0)
	var beyond float64
	for u := range 8 {
		for v := 4; v < 8; v++ {
			beyond += X[u][v] * X[u][v]
		}
	}
	if beyond < 1e-3 {
		t.Errorf("freqs 8: energy %g in columns 4–7", beyond)
	}
}

func TestSmoothSeed(t *testing.T) {
	s := Shape{32, 32, 3}
	a := smoothPattern(t, s, `{"seed": 3}`)
	if b := smoothPattern(t, s, `{"seed": 3}`); !slices.Equal(a, b) {
		t.Error("smooth pattern differs for the same seed")
	}
	if c := smoothPattern(t, s, `{"seed": 4}`); slices.Equal(a, c) {
		t.Error("smooth pattern is the same for seeds 3 and 4")
	}
	tr := mustNew(t, "smooth", s, "")
	x, y := ramp(s), ramp(s)
	tr.Apply(x)
	tr.Apply(y)
	if !slices.Equal(x, y) {
		t.Error("smooth is not deterministic")
	}
}

func TestSmoothPixels(t *testing.T) {
	// By hand on a 2×2 gray image with the pattern set to 0.2 on the first
	// pixel: bytes 0, 51, 102, 255 are 0, 0.2, 0.4, 1 on the [0, 1] scale;
	// plus the pattern 0.2, 0.2, 0.4, 1; stretched from [0.2, 1] to
	// [0, 255]: 0, 0, 63.75, 255 → 0, 0, 63, 255.
	tr := mustNew(t, "smooth", Shape{2, 2, 1}, `{"freqs": 2}`).(*Smooth)
	tr.pat = []float64{0.2, 0, 0, 0}
	img := []uint8{0, 51, 102, 255}
	tr.Apply(img)
	if !slices.Equal(img, []uint8{0, 0, 63, 255}) {
		t.Errorf("2×2 smooth: %v, want [0 0 63 255]", img)
	}

	// The ramp images, with the whole-image stretch written out.
	for _, s := range []Shape{{32, 32, 3}, {28, 28, 1}} {
		tr := mustNew(t, "smooth", s, "")
		pat := tr.(*Smooth).pat
		img := ramp(s)
		sum := make([]float64, len(img))
		for i, x := range img {
			sum[i] = float64(x)/255 + pat[i]
		}
		lo, hi := slices.Min(sum), slices.Max(sum)
		want := make([]uint8, len(img))
		for i, y := range sum {
			want[i] = uint8(math.Floor(255 * ((y - lo) / (hi - lo))))
		}
		tr.Apply(img)
		if !slices.Equal(img, want) {
			t.Errorf("%v: smooth bytes differ from the stretched sum", s)
		}
		if slices.Min(img) != 0 || slices.Max(img) != 255 {
			t.Errorf("%v: smooth image spans %d–%d, want 0–255", s, slices.Min(img), slices.Max(img))
		}
	}
}

func TestSmoothErrors(t *testing.T) {
	s := Shape{32, 32, 3}
	for _, tc := range []struct{ params, want string }{
		{`{"freqs": 1}`, "freqs 1"},
		{`{"freqs": 33}`, "32×32"},
		{`{"max": 0}`, "max 0"},
		{`{"max": 1.5}`, "max 1.5"},
	} {
		if _, err := New("smooth", s, json.RawMessage(tc.params)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.params, err, tc.want)
		}
	}
}
