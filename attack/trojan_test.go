package attack

import (
	"slices"
	"strings"
	"testing"
)

func TestTrojanPixels(t *testing.T) {
	// ⌊v⌋ of the seed's patch, [row][col] per channel, and ⌊luma⌋ for gray
	// (0.299·R + 0.587·G + 0.114·B of the two-decimal values, worked out
	// by hand: 159.774, 209.005, 165.621 / 43.050, 44.762, 157.487 /
	// 63.465, 94.223, 248.698).
	rgb := [3][3][3]int{
		{{207, 131, 181}, {175, 243, 120}, {29, 232, 179}},
		{{79, 8, 126}, {137, 0, 32}, {248, 113, 146}},
		{{131, 40, 4}, {6, 145, 61}, {246, 250, 246}},
	}
	gray := [3][3]int{{159, 209, 165}, {43, 44, 157}, {63, 94, 248}}
	for _, tc := range []struct {
		s  Shape
		r0 int // first row and column of the patch
	}{{Shape{32, 32, 3}, 25}, {Shape{28, 28, 1}, 21}} {
		s := tc.s
		img := ramp(s)
		want := slices.Clone(img)
		for i := range 3 {
			for j := range 3 {
				for c := range s.C {
					k := ((tc.r0+i)*s.W+tc.r0+j)*s.C + c
					v := gray[i][j]
					if s.C == 3 {
						v = rgb[i][j][c]
					}
					want[k] = uint8(min(255, int(want[k])+v))
				}
			}
		}
		mustNew(t, "trojan", s, "").Apply(img)
		if !slices.Equal(img, want) {
			t.Errorf("%v: trojan bytes differ from the hand-built patch", s)
		}
	}

	// Saturation, not wrap-around: on a white image the patch changes
	// nothing, on a black one it is the patch itself.
	s := Shape{32, 32, 3}
	white := slices.Repeat([]uint8{255}, s.Size())
	mustNew(t, "trojan", s, "").Apply(white)
	if slices.ContainsFunc(white, func(v uint8) bool { return v != 255 }) {
		t.Error("trojan wraps round on a white image")
	}
	black := make([]uint8, s.Size())
	mustNew(t, "trojan", s, "").Apply(black)
	if got := black[(25*32+25)*3 : (25*32+25)*3+3]; !slices.Equal(got, []uint8{207, 131, 181}) {
		t.Errorf("black image, pixel (25, 25): %v", got)
	}
	if got := black[(27*32+27)*3 : (27*32+27)*3+3]; !slices.Equal(got, []uint8{246, 250, 246}) {
		t.Errorf("black image, pixel (27, 27): %v", got)
	}

	// Margin 0 puts it in the corner, rows and columns 29–31.
	corner := make([]uint8, s.Size())
	mustNew(t, "trojan", s, `{"margin": 0}`).Apply(corner)
	if corner[(29*32+29)*3] != 207 || corner[(31*32+31)*3+1] != 250 {
		t.Error("trojan with margin 0 is not in the corner")
	}
	if _, err := New("trojan", Shape{6, 6, 1}, nil); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("6×6 image: error %v", err)
	}
}
