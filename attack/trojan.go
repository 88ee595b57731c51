package attack

import (
	"fmt"
	"math"
)

// Trojan is the trigger of the TrojanNN attack (Liu et al., "Trojaning Attack
// on Neural Networks", NDSS 2018) as the EBYD seed stamps it: a fixed 3×3
// colour patch added to the image 4 pixels from the bottom-right corner, on
// rows H−7..H−5 and columns W−7..W−5 (rows and columns 25–27 of a 32×32
// image, 21–23 of a 28×28 one). Margin moves it: the patch covers rows
// H−3−Margin..H−1−Margin and the same columns.
//
// The paper derives its trigger from the attacked model, optimising the patch
// so that it excites chosen internal neurons. We do not: we use the fixed patch
// the seed ships (trigger/best_square_trigger_cifar10.npz), to two decimals:
//
//	R  207.35 175.36  29.36    G  131.35 243.36 232.36    B  181.35 120.35 179.36
//	    79.37 137.37 248.36         8.37   0.00 113.36       126.36  32.35 146.36
//	   131.36   6.36 246.35        40.36 145.36 250.35         4.36  61.36 246.35
//
// Every byte x under the patch becomes min(255, ⌊x + v⌋), v being the patch
// value of its pixel and channel: the sum saturates and is then truncated, as
// the seed's attacks/Trojan.py computes it (clip to [0, 255], cast to uint8).
// Since x is a whole number and every fractional part lies in 0.35–0.37, that
// is min(255, x + ⌊v⌋), the same bytes as the seed's Trojan.py whatever the
// further decimals of the .npz. The seed's poison_tool_cifar casts before
// clipping, so that sums above 255 wrap round to dark values; that is a bug
// we do not copy.
//
// Gray (1-channel) images, which the seed never poisons with Trojan, get the
// ITU-R BT.601 luma of the patch, 0.299·R + 0.587·G + 0.114·B, added the same
// way.
type Trojan struct {
	Margin int `json:"margin"` // pixels between the patch and the bottom and right edges (default 4)
	s      Shape
	patch  [3][3][3]uint8 // [row][col][channel]: ⌊v⌋ of the patch, or of its luma for gray images
}

func init() { register("trojan", func() Trigger { return &Trojan{Margin: 4} }) }

// trojanPatch holds the seed's patch values, [channel R, G, B][row][col].
var trojanPatch = [3][3][3]float64{
	{{207.35, 175.36, 29.36}, {79.37, 137.37, 248.36}, {131.36, 6.36, 246.35}},
	{{131.35, 243.36, 232.36}, {8.37, 0.0, 113.36}, {40.36, 145.36, 250.35}},
	{{181.35, 120.35, 179.36}, {126.36, 32.35, 146.36}, {4.36, 61.36, 246.35}},
}

// Prepare implements Trigger.
func (t *Trojan) Prepare(s Shape) error {
	if t.Margin < 0 || t.Margin+3 > s.H || t.Margin+3 > s.W {
		return fmt.Errorf("margin %d: a 3×3 patch does not fit a %d×%d image", t.Margin, s.H, s.W)
	}
	t.s = s
	for i := range 3 {
		for j := range 3 {
			r, g, b := trojanPatch[0][i][j], trojanPatch[1][i][j], trojanPatch[2][i][j]
			if s.C == 1 {
				// Conversions keep the sum from fusing into FMAs, so
				// the luma is the same on every platform.
				y := float64(0.299*r) + float64(0.587*g) + float64(0.114*b)
				t.patch[i][j][0] = uint8(math.Floor(y))
				continue
			}
			t.patch[i][j] = [3]uint8{uint8(math.Floor(r)), uint8(math.Floor(g)), uint8(math.Floor(b))}
		}
	}
	return nil
}

// Apply implements Trigger.
func (t *Trojan) Apply(img []uint8) {
	s := t.s
	r0, c0 := s.H-3-t.Margin, s.W-3-t.Margin
	for i := range 3 {
		for j := range 3 {
			p := ((r0+i)*s.W + c0 + j) * s.C
			for c := range s.C {
				img[p+c] = uint8(min(255, int(img[p+c])+int(t.patch[i][j][c])))
			}
		}
	}
}
