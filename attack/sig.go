package attack

import (
	"fmt"
	"math"
)

// SIG is the sinusoidal-signal trigger of Barni, Kallas and Tondi, "A New
// Backdoor Attack in CNNs by Training Set Corruption Without Label Poisoning"
// (ICIP 2019): the horizontal sinusoid
//
//	v(i, j) = Δ·sin(2π·j·f/m)
//
// of amplitude Δ = Delta (default 20) and f = Freq (default 6) periods across
// the m = W columns is added to the image, the same in every row and every
// channel (vertical stripes); j is the 0-based column, so column 0 is
// unchanged. Each column's value is rounded to the nearest whole number
// (halves away from zero) and the sum saturates: x' = min(255, max(0,
// x + round(v(j)))), the image being on the 0–255 scale as in the paper.
// On 32 columns the defaults add 0, 18, 14, −8, −20, −8, 14, 18, 0, −18, …
//
// SIG is meant for clean-label poisoning (only target-class images carry the
// signal, and keep their label); that is the clean-label mode of Poisoning,
// not a property of the trigger.
//
// The seed (signalTrigger) does not add the paper's signal: it blends
// 0.8·x + 0.2·S with S_j = 20·sin(0.8·j) (f ≈ 4.07 on 32 columns) stored as
// uint8, so that negative values wrap round to 236–255, and truncates. Its
// effective signal is therefore a non-negative, non-sinusoidal 0.2·S plus a
// 20 % dimming of the image. We follow the paper.
type SIG struct {
	Delta float64 `json:"delta"` // amplitude Δ on the 0–255 scale, in (0, 255]
	Freq  float64 `json:"freq"`  // f, periods across the image's width, > 0
	add   []int   // round(v(j)) for every column
	s     Shape
}

func init() { register("sig", func() Trigger { return &SIG{Delta: 20, Freq: 6} }) }

// Prepare implements Trigger.
func (g *SIG) Prepare(s Shape) error {
	if !(g.Delta > 0 && g.Delta <= 255) {
		return fmt.Errorf("delta %g: the amplitude must be in (0, 255]", g.Delta)
	}
	if !(g.Freq > 0 && !math.IsInf(g.Freq, 1)) {
		return fmt.Errorf("freq %g: the number of periods must be positive", g.Freq)
	}
	g.s, g.add = s, make([]int, s.W)
	for j := range s.W {
		g.add[j] = int(math.Round(g.Delta * math.Sin(2*math.Pi*float64(j)*g.Freq/float64(s.W))))
	}
	return nil
}

// Apply implements Trigger.
func (g *SIG) Apply(img []uint8) {
	s := g.s
	for i := range s.H {
		for j, a := range g.add {
			p := (i*s.W + j) * s.C
			for c := range s.C {
				img[p+c] = uint8(min(255, max(0, int(img[p+c])+a)))
			}
		}
	}
}
