package attack

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// nashCube is tools/fixtures/nashville.py's cube(): every colour with channels
// in {round(j·255/7)}, R slowest, as a 16×32×3 image.
func nashCube() []uint8 {
	var lv [8]uint8
	for j := range lv {
		lv[j] = uint8((j*255 + 3) / 7)
	}
	var img []uint8
	for _, r := range lv {
		for _, g := range lv {
			for _, b := range lv {
				img = append(img, r, g, b)
			}
		}
	}
	return img
}

// The filter against tools/fixtures/nashville.py, an independent numpy float32
// re-derivation of Pillow's arithmetic: every byte must agree.
func TestNashvilleMatchesFixture(t *testing.T) {
	levels := make([]uint8, 256)
	for i := range levels {
		levels[i] = uint8(i)
	}
	for _, tc := range []struct {
		name string
		s    Shape
		img  []uint8
	}{
		{"ramp_32x32x3", Shape{32, 32, 3}, ramp(Shape{32, 32, 3})},
		{"ramp_28x28x1", Shape{28, 28, 1}, ramp(Shape{28, 28, 1})},
		{"cube_16x32x3", Shape{16, 32, 3}, nashCube()},
		{"levels_16x16x1", Shape{16, 16, 1}, levels},
	} {
		want, err := os.ReadFile(filepath.Join("testdata", "nashville_"+tc.name+".u8"))
		if err != nil {
			t.Fatal(err)
		}
		got := slices.Clone(tc.img)
		mustNew(t, "nashville", tc.s, "").Apply(got)
		bad := 0
		for i := range want {
			if got[i] != want[i] {
				if bad++; bad <= 5 {
					t.Errorf("%s: byte %d (input %d): %d, want %d", tc.name, i, tc.img[i], got[i], want[i])
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d bytes differ", tc.name, bad, len(want))
		}
	}
}

// Four pixels worked through by hand, step by step (sepia coefficients at
// amount 0.2: R' = .8786R + .1538G + .0378B, G' = .0698R + .9372G + .0336B,
// B' = .0544R + .1068G + .8262B, plus 0.5 and truncated):
//
//	(200,100,50): darken blend: unchanged (all below 247,176,153);
//	  lighten blend: B = 50 + .4·(150−50) = 90 → (200,100,90);
//	  sepia: 195.002, 111.204, 96.418 → (195,111,96);
//	  contrast x·1.2 − 25.5: 208.5 (a tie, Python rounds to even), 107.7,
//	  89.7 → (208,108,90); brightness ·1.05: 218.4, 113.4, 94.5 → (218,113,94);
//	  gray (19595·218 + 38470·113 + 7471·94 + 32768) >> 16 = 142;
//	  colour 142 + 1.2·(c − 142): 233.2, 107.2, 84.4 → (233,107,84).
//	(255,255,255): darken blend 255 − .56·(8, 79, 102) = 250.52, 210.76,
//	  197.88 → (250,210,197); lighten: unchanged; sepia 259.9, 221.4, 199.3 →
//	  (255,221,199); contrast 280.5, 239.7, 213.3 → (255,240,213); brightness
//	  267.75, 252, 223.65 → (255,251,223): 1.05·240 is 251.99998 in float32
//	  (1.05f = 1.04999995), so 251, not 252; gray 249; colour 256.2, 251.4,
//	  217.8 → (255,251,217).
//	(0,0,0): lighten blend .4·(70,150) → (0,28,60); sepia 7.07, 28.76, 53.06
//	  → (7,28,53); contrast (0,8,38); brightness 8.4, 39.9 → (0,8,39); gray 9;
//	  colour −1.8, 7.8, 45 → (0,7,45).
//	(20,120,220): darken B = 220 − .56·67 = 182.48 → (20,120,182); lighten:
//	  unchanged; sepia (43,120,164); contrast (26,118,171); brightness
//	  (27,123,179); gray 101; colour (12,127,194).
func TestNashvilleByHand(t *testing.T) {
	tb := nashvilleTables()
	for _, tc := range []struct {
		in, tone, sepia, point, out [3]uint8
	}{
		{[3]uint8{200, 100, 50}, [3]uint8{200, 100, 90}, [3]uint8{195, 111, 96}, [3]uint8{218, 113, 94}, [3]uint8{233, 107, 84}},
		{[3]uint8{255, 255, 255}, [3]uint8{250, 210, 197}, [3]uint8{255, 221, 199}, [3]uint8{255, 251, 223}, [3]uint8{255, 251, 217}},
		{[3]uint8{0, 0, 0}, [3]uint8{0, 28, 60}, [3]uint8{7, 28, 53}, [3]uint8{0, 8, 39}, [3]uint8{0, 7, 45}},
		{[3]uint8{20, 120, 220}, [3]uint8{20, 120, 182}, [3]uint8{43, 120, 164}, [3]uint8{27, 123, 179}, [3]uint8{12, 127, 194}},
	} {
		var tone, sep, pt [3]uint8
		for c := range 3 {
			tone[c] = tb.tone[c][tc.in[c]]
		}
		for c := range 3 {
			sep[c] = matrixRow(tb.sepia[4*c:4*c+4], tone[0], tone[1], tone[2])
			pt[c] = tb.point[sep[c]]
		}
		if tone != tc.tone || sep != tc.sepia || pt != tc.point {
			t.Errorf("%v: tone %v sepia %v contrast+brightness %v, want %v %v %v", tc.in, tone, sep, pt, tc.tone, tc.sepia, tc.point)
		}
		img := tc.in[:]
		img = slices.Clone(img)
		mustNew(t, "nashville", Shape{1, 1, 3}, "").Apply(img)
		if [3]uint8(img) != tc.out {
			t.Errorf("%v → %v, want %v", tc.in, img, tc.out)
		}
	}
	// Gray: 200 goes through (200,200,200) and back by the luma rule.
	r, g, b := tb.pixel(200, 200, 200)
	if tb.gray[200] != luma(r, g, b) {
		t.Error("gray table differs from the RGB filter and luma")
	}
}

// nashFloat64 re-derives the filter step by step in plain float64 with the
// nominal constants, for a pixel. ok is false where some step lands within
// 1e-4 of a truncation or rounding boundary (other than exactly, when nothing
// moved), where float32 rounding in Pillow decides the byte and float64
// cannot tell.
func nashFloat64(px [3]float64) (out [3]uint8, ok bool) {
	ok = true
	clip := func(v float64) float64 { return math.Max(0, math.Min(255, v)) }
	trunc := func(v float64) float64 {
		if f := v - math.Floor(v); v > 0 && v < 255 && (f < 1e-4 || f > 1-1e-4) {
			ok = false
		}
		return math.Floor(clip(v))
	}
	// blend is a + α(b − a), truncated; exact when b = a.
	blend := func(a, b, alpha float64) float64 {
		if a == b {
			return a
		}
		return trunc(a + alpha*(b-a))
	}
	dark := [3]float64{247, 176, 153}
	light := [3]float64{0, 70, 150}
	var x [3]float64
	for c := range 3 {
		cs := blend(px[c], math.Min(px[c], dark[c]), 0.56)
		x[c] = blend(cs, math.Max(cs, light[c]), 0.4)
	}
	m := [3][3]float64{{.8786, .1538, .0378}, {.0698, .9372, .0336}, {.0544, .1068, .8262}}
	var y [3]float64
	for c := range 3 {
		y[c] = trunc(m[c][0]*x[0] + m[c][1]*x[1] + m[c][2]*x[2] + 0.5)
	}
	for c := range 3 {
		v := y[c]*1.2 - 25.5
		if f := v - math.Floor(v); math.Abs(f-0.5) < 1e-4 {
			ok = false
		}
		y[c] = blend(0, clip(math.Round(v)), 1.05)
	}
	gray := math.Floor((19595*y[0] + 38470*y[1] + 7471*y[2] + 32768) / 65536)
	for c := range 3 {
		out[c] = uint8(blend(gray, y[c], 1.2))
	}
	return out, ok
}

// The filter against the float64 re-derivation wherever that is unambiguous.
func TestNashvilleFloat64(t *testing.T) {
	img := append(nashCube(), ramp(Shape{32, 32, 3})...)
	r := rand.New(rand.NewPCG(1, 2))
	for range 3 * 20000 {
		img = append(img, uint8(r.Uint32()))
	}
	got := slices.Clone(img)
	tr := mustNew(t, "nashville", Shape{1, len(img) / 3, 3}, "")
	tr.Apply(got)
	checked := 0
	for i := 0; i < len(img); i += 3 {
		want, ok := nashFloat64([3]float64{float64(img[i]), float64(img[i+1]), float64(img[i+2])})
		if !ok {
			continue
		}
		checked++
		if [3]uint8(got[i:i+3]) != want {
			t.Errorf("%v → %v, float64 re-derivation %v", img[i:i+3], got[i:i+3], want)
		}
	}
	t.Logf("%d of %d pixels unambiguous in float64", checked, len(img)/3)
	if checked < len(img)/3/8 {
		t.Errorf("only %d of %d pixels checked", checked, len(img)/3)
	}
}

func TestNashvilleDeterministic(t *testing.T) {
	s := Shape{32, 32, 3}
	a, b := ramp(s), ramp(s)
	mustNew(t, "nashville", s, "").Apply(a)
	mustNew(t, "nashville", s, "{}").Apply(b)
	if !slices.Equal(a, b) || slices.Equal(a, ramp(s)) {
		t.Error("nashville is not a fixed, visible change")
	}
}

func BenchmarkNashvilleApply(b *testing.B) {
	s := Shape{32, 32, 3}
	tr, err := New("nashville", s, nil)
	if err != nil {
		b.Fatal(err)
	}
	img := ramp(s)
	for b.Loop() {
		tr.Apply(img)
	}
}
