package attack

import (
	"slices"
	"strings"
	"testing"
)

func TestSIGPixels(t *testing.T) {
	// round(20·sin(2π·j·6/W)) for every column j, worked out beforehand
	// (the closest to a half is 20·sin(3π/7) = 19.4986 on 28 columns).
	cols := map[int][]int{
		32: {0, 18, 14, -8, -20, -8, 14, 18, 0, -18, -14, 8, 20, 8, -14, -18,
			0, 18, 14, -8, -20, -8, 14, 18, 0, -18, -14, 8, 20, 8, -14, -18},
		28: {0, 19, 9, -16, -16, 9, 19, 0, -19, -9, 16, 16, -9, -19,
			0, 19, 9, -16, -16, 9, 19, 0, -19, -9, 16, 16, -9, -19},
	}
	for _, s := range []Shape{{32, 32, 3}, {28, 28, 1}} {
		img := ramp(s)
		want := slices.Clone(img)
		for i := range s.H {
			for j := range s.W {
				for c := range s.C {
					k := (i*s.W+j)*s.C + c
					want[k] = uint8(min(255, max(0, int(want[k])+cols[s.W][j])))
				}
			}
		}
		mustNew(t, "sig", s, "").Apply(img)
		if !slices.Equal(img, want) {
			t.Errorf("%v: sig bytes differ from the column table", s)
		}
	}
	// On mid-gray the columns are the signal itself; the sum saturates on
	// black and white.
	s := Shape{2, 32, 1}
	for _, tc := range []struct {
		fill uint8
		want func(a int) int
	}{
		{128, func(a int) int { return 128 + a }},
		{0, func(a int) int { return max(0, a) }},
		{255, func(a int) int { return min(255, 255+a) }},
	} {
		img := slices.Repeat([]uint8{tc.fill}, s.Size())
		mustNew(t, "sig", s, "").Apply(img)
		for j, a := range cols[32] {
			if int(img[j]) != tc.want(a) || img[32+j] != img[j] {
				t.Errorf("fill %d, column %d: %d and %d, want %d in both rows", tc.fill, j, img[j], img[32+j], tc.want(a))
			}
		}
	}
	// Δ = 40, f = 2 on 8 columns: 40·sin(πj/2) = 0, 40, 0, −40, …
	img := slices.Repeat([]uint8{100}, 8)
	mustNew(t, "sig", Shape{1, 8, 1}, `{"delta": 40, "freq": 2}`).Apply(img)
	if !slices.Equal(img, []uint8{100, 140, 100, 60, 100, 140, 100, 60}) {
		t.Errorf("delta 40, freq 2 on 8 columns: %v", img)
	}
	for _, tc := range []struct{ params, want string }{
		{`{"delta": 0}`, "delta 0"},
		{`{"delta": 300}`, "delta 300"},
		{`{"freq": 0}`, "freq 0"},
		{`{"freq": -1}`, "freq -1"},
	} {
		if _, err := New("sig", s, []byte(tc.params)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.params, err, tc.want)
		}
	}
}
