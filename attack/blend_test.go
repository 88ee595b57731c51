package attack

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// blendNoise draws the blend noise as Blend documents it: one byte per
// pixel, the top 8 bits of PCG(seed, "blend"), row-major, in every channel.
func blendNoise(s Shape, seed uint64) []uint8 {
	r := rand.New(rand.NewPCG(seed, 0x626c656e64))
	out := make([]uint8, s.Size())
	for p := range s.H * s.W {
		v := uint8(r.Uint64() >> 56)
		for c := range s.C {
			out[p*s.C+c] = v
		}
	}
	return out
}

func TestBlendPixels(t *testing.T) {
	// The noise of seed 1 starts with these bytes (pinned, so that a change
	// of the draw, which would change every recorded run, is caught).
	if got := blendNoise(Shape{1, 8, 1}, 1); !slices.Equal(got, []uint8{26, 188, 139, 54, 101, 222, 140, 50}) {
		t.Fatalf("PCG noise of seed 1 starts %v", got)
	}
	for _, s := range []Shape{{32, 32, 3}, {28, 28, 1}} {
		// α = 1 on any image gives the noise itself.
		img := ramp(s)
		mustNew(t, "blend", s, `{"alpha": 1}`).Apply(img)
		noise := blendNoise(s, 1)
		if !slices.Equal(img, noise) {
			t.Fatalf("%v: blend with α = 1 is not the seed-1 noise", s)
		}
		// α = 0.2: round(0.8x + 0.2P) = round((4x + P)/5), never a tie.
		img = ramp(s)
		want := make([]uint8, s.Size())
		for i, x := range img {
			want[i] = uint8((8*int(x) + 2*int(noise[i]) + 5) / 10)
		}
		mustNew(t, "blend", s, "").Apply(img)
		if !slices.Equal(img, want) {
			t.Errorf("%v: blend bytes differ from round((4x + P)/5)", s)
		}
	}
	// By hand, on the first three noise bytes 26, 188, 139: x = 2 → (8 +
	// 26)/5 = 6.8 → 7; x = 0 → 188/5 = 37.6 → 38; x = 0 → 139/5 = 27.8 → 28
	// (the seed's truncation would give 6, 37, 27).
	s := Shape{1, 3, 1}
	img := []uint8{2, 0, 0}
	mustNew(t, "blend", s, "").Apply(img)
	if !slices.Equal(img, []uint8{7, 38, 28}) {
		t.Errorf("1×3 blend: %v, want [7 38 28]", img)
	}
}

func TestBlendSeed(t *testing.T) {
	s := Shape{32, 32, 3}
	a, b, c := ramp(s), ramp(s), ramp(s)
	mustNew(t, "blend", s, `{"seed": 5}`).Apply(a)
	mustNew(t, "blend", s, `{"seed": 5}`).Apply(b)
	mustNew(t, "blend", s, `{"seed": 6}`).Apply(c)
	if !slices.Equal(a, b) {
		t.Error("blend differs for the same seed")
	}
	if slices.Equal(a, c) {
		t.Error("blend is the same for seeds 5 and 6")
	}
	// Fixed per attack: stamping twice the same image gives the same bytes.
	tr := mustNew(t, "blend", s, "")
	d, e := ramp(s), ramp(s)
	tr.Apply(d)
	tr.Apply(e)
	if !slices.Equal(d, e) {
		t.Error("blend redraws its noise per image")
	}
}

func TestBlendPattern(t *testing.T) {
	s := Shape{32, 32, 3}
	// A one-channel pattern broadcast over RGB, α = 0.5: ties round up,
	// (x + P + 1)/2.
	gray := &Image{H: 32, W: 32, C: 1, Pix: make([]uint8, 32*32)}
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	params, _ := json.Marshal(map[string]any{"alpha": 0.5, "pattern": gray})
	tr := mustNew(t, "blend", s, string(params))
	img := ramp(s)
	want := slices.Clone(img)
	for i := range want {
		want[i] = uint8((int(want[i]) + int(gray.Pix[i/3]) + 1) / 2)
	}
	tr.Apply(img)
	if !slices.Equal(img, want) {
		t.Error("blend with a gray pattern: bytes differ from (x + P + 1)/2")
	}
	// Rebuilt from its recorded parameters, the pattern included.
	again, err := New("blend", s, Params(tr))
	if err != nil {
		t.Fatal(err)
	}
	img2 := ramp(s)
	again.Apply(img2)
	if !slices.Equal(img2, want) {
		t.Error("blend rebuilt from its parameters differs")
	}

	// An RGB pattern at the default α = 0.2.
	rgb := &Image{H: 32, W: 32, C: 3, Pix: make([]uint8, s.Size())}
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(255 - i*3)
	}
	params, _ = json.Marshal(map[string]any{"pattern": rgb})
	img = ramp(s)
	for i, x := range img {
		want[i] = uint8((8*int(x) + 2*int(rgb.Pix[i]) + 5) / 10)
	}
	mustNew(t, "blend", s, string(params)).Apply(img)
	if !slices.Equal(img, want) {
		t.Error("blend with an RGB pattern: bytes differ")
	}
}

func TestBlendErrors(t *testing.T) {
	s := Shape{32, 32, 3}
	small, _ := json.Marshal(map[string]any{"pattern": &Image{H: 28, W: 28, C: 1, Pix: make([]uint8, 28*28)}})
	twoC, _ := json.Marshal(map[string]any{"pattern": &Image{H: 32, W: 32, C: 2, Pix: make([]uint8, 32*32*2)}})
	for _, tc := range []struct {
		params string
		want   []string
	}{
		{string(small), []string{"28×28", "32×32"}},
		{string(twoC), []string{"2 channels", "have 3"}},
		{`{"alpha": 0}`, []string{"alpha 0", "(0, 1]"}},
		{`{"alpha": 1.5}`, []string{"alpha 1.5", "(0, 1]"}},
		{`{"alpha": -0.2}`, []string{"(0, 1]"}},
	} {
		_, err := New("blend", s, json.RawMessage(tc.params))
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%.60s: error %v, want %q", tc.params, err, w)
			}
		}
	}
}
