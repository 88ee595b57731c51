package attack

import (
	"errors"
	"fmt"
	"math"
)

// Patch stamps a trigger the user supplies as pictures (ebyd's
// --trigger-pattern and --trigger-mask): every byte x of the image becomes
//
//	x' = round((1 − m)·x + m·P),   m = Alpha·M/255
//
// with P the Pattern and M the Mask (0 keeps the image, 255 puts the pattern),
// rounded to the nearest whole number (halves away from zero) in float64. This
// (pattern, weight) form is BackdoorBox's and covers both a BadNets-style
// patch (M = 255 on the patch, Alpha 1) and a blended trigger (M = 255
// everywhere, Alpha = the blend ratio). Alpha, in (0, 1], defaults to 1. With
// Alpha 1 the exact value is a multiple of 1/255 and never a half, so the
// rounding is never a tie.
//
// Both pictures must have the images' height and width, and 1 channel
// (broadcast to every channel) or as many as the images. Without a Mask, the
// trigger is every pixel where the pattern is not black: M = 255 at a pixel
// where any channel of P is non-zero, 0 elsewhere, the same in every channel,
// so that a pure red pattern pixel stamps pure red. (BackdoorBench's
// AddMaskPatchTrigger decides channel by channel instead, which keeps the
// image's green and blue under a red pattern pixel.) A black trigger pixel
// therefore needs a mask.
type Patch struct {
	Pattern *Image  `json:"pattern"`        // P
	Mask    *Image  `json:"mask,omitempty"` // M; nil: 255 where the pattern is not black
	Alpha   float64 `json:"alpha"`          // scales the mask, in (0, 1]
	pat     []uint8
	w       []float64 // m for every byte of an image
}

func init() { register("patch", func() Trigger { return &Patch{Alpha: 1} }) }

// Prepare implements Trigger.
func (t *Patch) Prepare(s Shape) error {
	if t.Pattern == nil {
		return fmt.Errorf("no trigger pattern given: give the trigger as a %d×%d picture (--trigger-pattern), and optionally a mask of the same size (--trigger-mask) saying where and how strongly to stamp it", s.H, s.W)
	}
	if !(t.Alpha > 0 && t.Alpha <= 1) {
		return fmt.Errorf("alpha %g: must be in (0, 1]", t.Alpha)
	}
	pat, err := t.Pattern.fit("pattern", s)
	if err != nil {
		return err
	}
	mask := func(p, c int) uint8 {
		for k := range t.Pattern.C {
			if t.Pattern.Pix[p*t.Pattern.C+k] != 0 {
				return 255
			}
		}
		return 0
	}
	if t.Mask != nil {
		if mask, err = t.Mask.fit("mask", s); err != nil {
			return err
		}
	}
	t.pat, t.w = make([]uint8, s.Size()), make([]float64, s.Size())
	stamps := false
	for p := range s.H * s.W {
		for c := range s.C {
			i := p*s.C + c
			t.pat[i] = pat(p, c)
			t.w[i] = t.Alpha * float64(mask(p, c)) / 255
			stamps = stamps || t.w[i] > 0
		}
	}
	if !stamps {
		if t.Mask != nil {
			return errors.New("the mask is 0 everywhere, so the trigger changes nothing; give a mask that is 255 where the pattern should be stamped")
		}
		return errors.New("the pattern is black everywhere and no mask is given, so the trigger changes nothing; give a mask (--trigger-mask) that is 255 where the pattern should be stamped")
	}
	return nil
}

// Apply implements Trigger.
func (t *Patch) Apply(img []uint8) {
	for i, m := range t.w {
		if m == 0 {
			continue
		}
		// The conversions forbid fusing into an FMA, so every platform
		// rounds the same.
		v := float64((1-m)*float64(img[i])) + float64(m*float64(t.pat[i]))
		img[i] = uint8(min(255, max(0, math.Round(v))))
	}
}
