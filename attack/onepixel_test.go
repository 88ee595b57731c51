package attack

import (
	"slices"
	"strings"
	"testing"
)

func TestOnePixelPixels(t *testing.T) {
	for _, tc := range []struct {
		s        Shape
		row, col int
	}{{Shape{32, 32, 3}, 16, 16}, {Shape{28, 28, 1}, 14, 14}} {
		img := ramp(tc.s)
		want := slices.Clone(img)
		for c := range tc.s.C {
			want[(tc.row*tc.s.W+tc.col)*tc.s.C+c] = 255
		}
		mustNew(t, "onepixel", tc.s, "").Apply(img)
		if !slices.Equal(img, want) {
			t.Errorf("%v: onepixel is not pixel (%d, %d) = 255 alone", tc.s, tc.row, tc.col)
		}
	}
	s := Shape{32, 32, 3}
	img := ramp(s)
	want := slices.Clone(img)
	copy(want[(16*32+16)*3:], []uint8{7, 7, 7})
	mustNew(t, "onepixel", s, `{"value": 7}`).Apply(img)
	if !slices.Equal(img, want) {
		t.Error("onepixel with value 7 wrong")
	}
	if _, err := New("onepixel", s, []byte(`{"value": 256}`)); err == nil || !strings.Contains(err.Error(), "0 to 255") {
		t.Errorf("value 256: error %v", err)
	}
	img = ramp(s)
	want = slices.Clone(img)
	copy(want[(2*32+5)*3:], []uint8{255, 255, 255})
	mustNew(t, "onepixel", s, `{"row": 2, "col": 5}`).Apply(img)
	if !slices.Equal(img, want) {
		t.Error("onepixel at (2, 5) wrong")
	}
	if _, err := New("onepixel", s, []byte(`{"row": 32}`)); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("row 32: error %v", err)
	}
}
