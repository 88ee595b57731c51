package attack

import (
	"math"
	"sync"
)

// Nashville is the Instagram "Nashville" filter used as a trigger (the EBYD
// seed's nashTrigger, after the Multi-Trigger paper of the same authors):
// a whole-image colour cast that a model can learn as a backdoor. It
// reproduces, to the byte, the pilgram library's nashville on Pillow, the
// version the seed's dossier (§2.2) describes:
//
//	cb = im.convert("RGB")
//	cs = Image.blend(cb, ImageChops.darker(cb, (247, 176, 153)), 0.56)
//	cr = Image.blend(cs, ImageChops.lighter(cs, (0, 70, 150)), 0.4)
//	cr = css.sepia(cr, 0.2)          # convert("RGB", W3C sepia matrix, s = 0.8)
//	cr = css.contrast(cr, 1.2)       # point(round(x·1.2 + 255·(−0.5·1.2 + 0.5)))
//	cr = ImageEnhance.Brightness(cr).enhance(1.05)
//	cr = ImageEnhance.Color(cr).enhance(1.2)
//	return cr.convert(im.mode)
//
// with Pillow's C arithmetic at every step, as it runs on x86-64 (float32, no
// fused multiply-add):
//
//   - Image.blend(a, b, α) (Blend.c), α a float32: v = a + α·(b − a) in
//     float32, then truncated to a byte; for α > 1 (Brightness, Color) v ≤ 0
//     gives 0 and v ≥ 255 gives 255 first. ImageEnhance.Brightness blends
//     from black, ImageEnhance.Color from the image's gray (below).
//   - convert("RGB", m) (Matrix.c), m the twelve float32 entries of the sepia
//     matrix computed in float64 (amount = 1 − 0.2): the sum
//     m0·R + m1·G + m2·B + m3 in float32, plus 0.5 in float64, stored as
//     float32, then clipped to 0–255 and truncated (rounding to nearest).
//   - point(λ): λ in float64, Python's round (halves to even), clipped to a
//     byte (the table's CLIP8).
//   - RGB to gray, convert("L") (Convert.c): (19595·R + 38470·G + 7471·B +
//     2¹⁵) >> 16, ITU-R 601-2 luma rounded to nearest.
//
// Gray images (one channel) go through the filter as pilgram treats a PIL "L"
// image: replicated to RGB, filtered, and converted back with the luma rule
// above (the final cr.convert(im.mode)).
//
// tools/fixtures/nashville.py re-derives the same arithmetic independently with
// numpy float32; attack/testdata holds its output, which Apply matches to the
// byte. Pillow itself could not be run here, so that is our reading of its C
// code, not a measurement; the residual against real Pillow should be 0, or 1
// level where a compiler fused a multiply-add (the aarch64 default).
//
// The filter has no parameters. Where we differ from the seed: nowhere, but
// note that pilgram 1.x (the current release) reimplements nashville with CSS
// alpha compositing and the W3C brightness and saturate filters (luma weights
// 0.2126/0.7152/0.0722 in saturate instead of PIL's 0.299/0.587/0.114), which
// moves some bytes by a few levels; we follow the PIL-based version of the
// dossier.
type Nashville struct {
	c int // channels
	t *nashTables
}

func init() { register("nashville", func() Trigger { return new(Nashville) }) }

// nashTables holds the per-byte steps of the filter.
type nashTables struct {
	tone  [3][256]uint8 // steps 1–2 (darken and lighten blends) per channel
	point [256]uint8    // contrast then brightness
	sepia [12]float32   // the sepia matrix as Pillow holds it
	color float32       // the Color factor 1.2 as a float32
	gray  [256]uint8    // the whole filter on a gray byte (1-channel images)
}

var nashvilleTables = sync.OnceValue(func() *nashTables {
	t := new(nashTables)
	// The parameters are variables so that the arithmetic below is IEEE
	// float64 and float32, as Python's and C's, not exact constant folding.
	var (
		darken           = [3]uint8{247, 176, 153}
		lighten          = [3]uint8{0, 70, 150}
		a1, a2           = 0.56, 0.4
		sepia, contrast  = 0.2, 1.2
		bright, colorAmt = 1.05, 1.2
	)
	for c := range 3 {
		for v := range 256 {
			cb := uint8(v)
			cs := pilBlend(cb, min(cb, darken[c]), float32(a1))
			t.tone[c][v] = pilBlend(cs, max(cs, lighten[c]), float32(a2))
		}
	}
	for v := range 256 {
		// css.contrast: round(x * amount + 255 * (-0.5 * amount + 0.5)).
		off := 255 * float64(float64(-0.5*contrast)+0.5)
		x := float64(float64(v)*contrast) + off
		p := uint8(min(max(math.RoundToEven(x), 0), 255))
		t.point[v] = pilBlend(0, p, float32(bright))
	}
	s := 1 - min(sepia, 1)
	m := [12]float64{
		.393 + float64(.607*s), .769 - float64(.769*s), .189 - float64(.189*s), 0,
		.349 - float64(.349*s), .686 + float64(.314*s), .168 - float64(.168*s), 0,
		.272 - float64(.272*s), .534 - float64(.534*s), .131 + float64(.869*s), 0,
	}
	for i, v := range m {
		t.sepia[i] = float32(v)
	}
	t.color = float32(colorAmt)
	for v := range 256 {
		r, g, b := t.pixel(uint8(v), uint8(v), uint8(v))
		t.gray[v] = luma(r, g, b)
	}
	return t
})

// pilBlend is Pillow's ImagingBlend on one byte: a + α·(b − a) in float32,
// truncated; clipped to 0–255 first when α is outside [0, 1].
func pilBlend(a, b uint8, alpha float32) uint8 {
	v := float32(a) + float32(alpha*float32(int(b)-int(a)))
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// luma is Pillow's RGB to L conversion.
func luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 0x8000) >> 16)
}

// matrixRow is one output channel of Pillow's ImagingConvertMatrix.
func matrixRow(m []float32, r, g, b uint8) uint8 {
	s := float32(float32(m[0]*float32(r))+float32(m[1]*float32(g))) + float32(m[2]*float32(b))
	s += m[3]
	v := float32(float64(s) + 0.5)
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// pixel runs the filter on one RGB pixel.
func (t *nashTables) pixel(r, g, b uint8) (uint8, uint8, uint8) {
	r, g, b = t.tone[0][r], t.tone[1][g], t.tone[2][b]
	r, g, b = matrixRow(t.sepia[0:4], r, g, b), matrixRow(t.sepia[4:8], r, g, b), matrixRow(t.sepia[8:12], r, g, b)
	r, g, b = t.point[r], t.point[g], t.point[b]
	y := luma(r, g, b)
	return pilBlend(y, r, t.color), pilBlend(y, g, t.color), pilBlend(y, b, t.color)
}

// Prepare implements Trigger.
func (n *Nashville) Prepare(s Shape) error {
	n.c, n.t = s.C, nashvilleTables()
	return nil
}

// Apply implements Trigger: HWC with 3 channels filtered per pixel, with 1
// channel through the gray table.
func (n *Nashville) Apply(img []uint8) {
	t := n.t
	if n.c == 1 {
		for i, v := range img {
			img[i] = t.gray[v]
		}
		return
	}
	for i := 0; i+2 < len(img); i += 3 {
		img[i], img[i+1], img[i+2] = t.pixel(img[i], img[i+1], img[i+2])
	}
}
