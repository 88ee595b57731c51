package attack

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Smooth is a low-frequency ("smooth") trigger after Zeng, Park, Mohanty,
// Gao and Jia, "Rethinking the Backdoor Attacks' Triggers: A Frequency
// Perspective" (ICCV 2021), applied as the EBYD seed applies its smooth
// trigger (smoothTrigger, in the Multi-Trigger repository): with x the image
// on the [0, 1] scale (bytes/255) and P the pattern, every byte becomes
//
//	y  = x + P
//	x' = ⌊255·(y − min y)/(max y − min y)⌋
//
// min and max being over the whole image (every pixel and channel), so the
// sum is stretched back to the full range and truncated (the seed's uint8
// cast). The stretch is part of the trigger: it also changes the contrast of
// the image, more so the darker or flatter it is.
//
// The paper's pattern is a universal adversarial perturbation optimised on a
// trained model and passed through a low-pass filter; the seed loads one such
// perturbation (best_universal.npy, values in [0, 0.2]). We ship neither a
// model nor that file. Our P is random in the same low-frequency subspace: for
// each channel, Freqs×Freqs coefficients a(u, v), uniform in [−1, 1), weight
// the lowest 2-D DCT-II basis functions,
//
//	z(y, x) = Σ_{u,v < Freqs} a(u, v)·cos(π(2y+1)u/2H)·cos(π(2x+1)v/2W),
//
// and z is scaled, over all channels together, to [0, Max] (Max = 0.2 by
// default, the seed file's range). The coefficients are the top 53 bits of
// successive outputs of PCG(Seed, "smooth"), channel by channel, u then v, so
// Seed alone fixes P. Channels get independent coefficients; a gray image gets
// the first channel's. Every DCT-II coefficient of P outside the Freqs×Freqs
// corner is zero (the scaling multiplies and shifts, which changes the (0, 0)
// coefficient alone), so the pattern has no high-frequency artefact. Freqs
// defaults to 4: on 32 columns the fastest basis function has 1.5 periods.
type Smooth struct {
	Freqs int     `json:"freqs"` // DCT frequencies kept per axis, ≥ 2 and at most H and W
	Max   float64 `json:"max"`   // the pattern's peak on the [0, 1] scale, in (0, 1]
	Seed  uint64  `json:"seed"`  // draws the pattern's coefficients
	pat   []float64
}

func init() { register("smooth", func() Trigger { return &Smooth{Freqs: 4, Max: 0.2, Seed: 1} }) }

const streamSmooth = 0x736d6f6f7468 // "smooth"

// Prepare implements Trigger.
func (t *Smooth) Prepare(s Shape) error {
	if t.Freqs < 2 || t.Freqs > s.H || t.Freqs > s.W {
		return fmt.Errorf("freqs %d: must be at least 2 and at most the image's %d×%d", t.Freqs, s.H, s.W)
	}
	if !(t.Max > 0 && t.Max <= 1) {
		return fmt.Errorf("max %g: the pattern's peak must be in (0, 1]", t.Max)
	}
	k := t.Freqs
	r := rand.New(rand.NewPCG(t.Seed, streamSmooth))
	coef := make([]float64, 3*k*k) // always three channels' worth: a gray image draws the first channel's
	for i := range coef {
		coef[i] = 2*float64(r.Uint64()>>11)/(1<<53) - 1
	}
	cy, cx := smoothBasis(k, s.H), smoothBasis(k, s.W)
	z := make([]float64, s.Size())
	for y := range s.H {
		for x := range s.W {
			for c := range s.C {
				var sum float64
				for u := range k {
					for v := range k {
						// The conversion forbids fusing into an FMA,
						// so every platform draws the same pattern.
						sum += float64(coef[(c*k+u)*k+v] * cy[u][y] * cx[v][x])
					}
				}
				z[(y*s.W+x)*s.C+c] = sum
			}
		}
	}
	lo, hi := smoothRange(z)
	if !(hi > lo) {
		return fmt.Errorf("seed %d draws a flat pattern; use another seed", t.Seed)
	}
	for i, v := range z {
		z[i] = t.Max * ((v - lo) / (hi - lo))
	}
	t.pat = z
	return nil
}

// smoothBasis returns the first k DCT-II basis functions of length n,
// cos(π(2i+1)u/2n) at [u][i].
func smoothBasis(k, n int) [][]float64 {
	b := make([][]float64, k)
	for u := range b {
		b[u] = make([]float64, n)
		for i := range n {
			b[u][i] = math.Cos(math.Pi * float64((2*i+1)*u) / float64(2*n))
		}
	}
	return b
}

func smoothRange(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// Apply implements Trigger.
func (t *Smooth) Apply(img []uint8) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, p := range t.pat {
		y := float64(img[i])/255 + p
		lo, hi = min(lo, y), max(hi, y)
	}
	if !(hi > lo) {
		return // a flat sum, which a non-flat pattern makes all but impossible: nothing to stretch
	}
	for i, p := range t.pat {
		y := float64(img[i])/255 + p
		img[i] = uint8(255 * ((y - lo) / (hi - lo)))
	}
}
