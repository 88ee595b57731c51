package attack

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func patchParams(t *testing.T, v map[string]any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// patchImage returns an s.H×s.W image of c channels with bytes f(i).
func patchImage(s Shape, c int, f func(i int) uint8) *Image {
	im := &Image{H: s.H, W: s.W, C: c, Pix: make([]uint8, s.H*s.W*c)}
	for i := range im.Pix {
		im.Pix[i] = f(i)
	}
	return im
}

func TestPatchPixels(t *testing.T) {
	for _, s := range []Shape{{32, 32, 3}, {28, 28, 1}} {
		pat := patchImage(s, s.C, func(i int) uint8 { return uint8(200 - i*13) })
		// A one-channel mask: 0, 255, 128 and 51 in turn, so fully the
		// image, fully the pattern and two mixes.
		levels := []int{0, 255, 128, 51}
		mask := patchImage(s, 1, func(i int) uint8 { return uint8(levels[i%4]) })
		tr := mustNew(t, "patch", s, patchParams(t, map[string]any{"pattern": pat, "mask": mask}))
		img := ramp(s)
		want := slices.Clone(img)
		for i, x := range want {
			// round(((255 − M)·x + M·P)/255), never a tie with 255 odd.
			m, p := levels[(i/s.C)%4], int(pat.Pix[i])
			want[i] = uint8((2*((255-m)*int(x)+m*p) + 255) / 510)
		}
		tr.Apply(img)
		if !slices.Equal(img, want) {
			t.Errorf("%v: patch bytes differ from round(((255 − M)x + MP)/255)", s)
		}
		// The recorded parameters rebuild it.
		again, err := New("patch", s, Params(tr))
		if err != nil {
			t.Fatal(err)
		}
		img = ramp(s)
		again.Apply(img)
		if !slices.Equal(img, want) {
			t.Errorf("%v: patch rebuilt from its parameters differs", s)
		}
	}
	// By hand: x = 100, P = 200, M = 128 → (127·100 + 128·200)/255 =
	// 150.196 → 150; M = 51 → (204·100 + 51·200)/255 = 120.
	s := Shape{1, 2, 1}
	img := []uint8{100, 100}
	pat := &Image{H: 1, W: 2, C: 1, Pix: []uint8{200, 200}}
	mask := &Image{H: 1, W: 2, C: 1, Pix: []uint8{128, 51}}
	mustNew(t, "patch", s, patchParams(t, map[string]any{"pattern": pat, "mask": mask})).Apply(img)
	if !slices.Equal(img, []uint8{150, 120}) {
		t.Errorf("1×2 patch: %v, want [150 120]", img)
	}
}

func TestPatchNoMask(t *testing.T) {
	// Without a mask, every pixel where the pattern is not black is
	// stamped, all channels: a pure red pixel stays pure red.
	s := Shape{32, 32, 3}
	pat := patchImage(s, 3, func(int) uint8 { return 0 })
	copy(pat.Pix[(2*32+3)*3:], []uint8{255, 0, 0})
	copy(pat.Pix[(30*32+31)*3:], []uint8{0, 9, 0})
	img := ramp(s)
	want := slices.Clone(img)
	copy(want[(2*32+3)*3:], []uint8{255, 0, 0})
	copy(want[(30*32+31)*3:], []uint8{0, 9, 0})
	mustNew(t, "patch", s, patchParams(t, map[string]any{"pattern": pat})).Apply(img)
	if !slices.Equal(img, want) {
		t.Error("patch without a mask: not exactly the non-black pattern pixels")
	}

	// Alpha 0.5 halves the mask: (x + P + 1)/2 on the stamped pixels.
	img = ramp(s)
	want = slices.Clone(img)
	for _, p := range []int{2*32 + 3, 30*32 + 31} {
		for c := range 3 {
			want[p*3+c] = uint8((int(want[p*3+c]) + int(pat.Pix[p*3+c]) + 1) / 2)
		}
	}
	mustNew(t, "patch", s, patchParams(t, map[string]any{"pattern": pat, "alpha": 0.5})).Apply(img)
	if !slices.Equal(img, want) {
		t.Error("patch with alpha 0.5: bytes differ from (x + P + 1)/2")
	}
}

func TestPatchErrors(t *testing.T) {
	s := Shape{32, 32, 3}
	ok := patchImage(s, 3, func(i int) uint8 { return uint8(i) })
	small := patchImage(Shape{28, 28, 1}, 1, func(int) uint8 { return 255 })
	black := patchImage(s, 1, func(int) uint8 { return 0 })
	for _, tc := range []struct {
		params map[string]any
		want   []string
	}{
		{nil, []string{"no trigger pattern", "32×32", "--trigger-pattern"}},
		{map[string]any{"pattern": small}, []string{"pattern image is 28×28", "32×32"}},
		{map[string]any{"pattern": ok, "mask": small}, []string{"mask image is 28×28", "32×32"}},
		{map[string]any{"pattern": ok, "mask": black}, []string{"mask is 0 everywhere"}},
		{map[string]any{"pattern": black}, []string{"black everywhere", "--trigger-mask"}},
		{map[string]any{"pattern": ok, "alpha": 0}, []string{"alpha 0", "(0, 1]"}},
		{map[string]any{"pattern": ok, "alpha": 2}, []string{"alpha 2", "(0, 1]"}},
	} {
		params := ""
		if tc.params != nil {
			params = patchParams(t, tc.params)
		}
		_, err := New("patch", s, json.RawMessage(params))
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %v, want %q", tc.want, err, w)
			}
		}
	}
}
