package attack

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Blend is the blended-injection trigger of Chen, Liu, Li, Lu and Song,
// "Targeted Backdoor Attacks on Deep Learning Systems Using Data Poisoning"
// (2017): every byte x of the image becomes
//
//	x' = round((1 − α)·x + α·P)
//
// for a fixed key pattern P and blend ratio α = Alpha (default 0.2, the
// seed's and the paper's training ratio), rounded to the nearest whole number
// (halves away from zero) in float64. The seed truncates (a uint8 cast), which
// darkens every blended byte by half a level on average; we round. With the
// default α = 0.2 the exact value (4x + P)/5 is never a half, so the rounding
// is never a tie.
//
// P is either Pattern, a picture the user supplies (1 channel, broadcast to
// every channel, or as many channels as the images; the same height and
// width), or, without one, uniform random noise: one byte per pixel, the same
// in every channel, drawn once from Seed (the top 8 bits of successive
// outputs of PCG(Seed, "blend") in row-major order). Seed is ignored when
// Pattern is given.
//
// The seed's noise version (randomPixelTrigger) draws fresh noise for every
// image, so that no two poisoned images share a trigger. The paper blends one
// fixed key pattern, which is what the model can learn and what test images
// must carry; so do we. The seed's attacks/Blend.py blends the Hello Kitty
// picture, which we do not ship: give it as Pattern to reproduce that attack.
type Blend struct {
	Alpha   float64 `json:"alpha"`             // blend ratio α in (0, 1]
	Seed    uint64  `json:"seed"`              // draws the noise pattern when Pattern is nil
	Pattern *Image  `json:"pattern,omitempty"` // the key pattern; nil: seeded noise
	pat     []uint8 // P for every byte of an image
	mix     *[256 * 256]uint8
}

func init() { register("blend", func() Trigger { return &Blend{Alpha: 0.2, Seed: 1} }) }

const streamBlend = 0x626c656e64 // "blend"

// Prepare implements Trigger.
func (b *Blend) Prepare(s Shape) error {
	if !(b.Alpha > 0 && b.Alpha <= 1) {
		return fmt.Errorf("alpha %g: the blend ratio must be in (0, 1]", b.Alpha)
	}
	b.pat = make([]uint8, s.Size())
	if b.Pattern != nil {
		at, err := b.Pattern.fit("pattern", s)
		if err != nil {
			return err
		}
		for p := range s.H * s.W {
			for c := range s.C {
				b.pat[p*s.C+c] = at(p, c)
			}
		}
	} else {
		r := rand.New(rand.NewPCG(b.Seed, streamBlend))
		for p := range s.H * s.W {
			v := uint8(r.Uint64() >> 56)
			for c := range s.C {
				b.pat[p*s.C+c] = v
			}
		}
	}
	b.mix = blendTable(b.Alpha)
	return nil
}

// blendTable returns round((1−α)·x + α·P) for every pair of bytes, at x<<8 | P.
func blendTable(alpha float64) *[256 * 256]uint8 {
	t := new([256 * 256]uint8)
	for x := range 256 {
		for p := range 256 {
			// The conversions forbid fusing into an FMA, so every
			// platform rounds the same.
			v := float64((1-alpha)*float64(x)) + float64(alpha*float64(p))
			t[x<<8|p] = uint8(min(255, max(0, math.Round(v))))
		}
	}
	return t
}

// Apply implements Trigger.
func (b *Blend) Apply(img []uint8) {
	for i, p := range b.pat {
		img[i] = b.mix[int(img[i])<<8|int(p)]
	}
}
