package optim

import (
	"math"
	"sort"
)

// Schedule gives the learning rate for an epoch (counted from 0) from the
// base rate.
type Schedule interface {
	Rate(base float32, epoch int) float32
}

// Constant keeps the base rate.
type Constant struct{}

func (Constant) Rate(base float32, _ int) float32 { return base }

// MultiStep multiplies the rate by Gamma at each milestone epoch, as
// torch.optim.lr_scheduler.MultiStepLR stepped once per epoch.
type MultiStep struct {
	Milestones []int
	Gamma      float32
}

func (s MultiStep) Rate(base float32, epoch int) float32 {
	m := append([]int(nil), s.Milestones...)
	sort.Ints(m)
	lr := base
	for _, e := range m {
		if epoch >= e {
			lr *= s.Gamma
		}
	}
	return lr
}

// Cosine anneals from the base rate to Min over TMax epochs, as
// CosineAnnealingLR.
type Cosine struct {
	TMax int
	Min  float32
}

func (s Cosine) Rate(base float32, epoch int) float32 {
	if s.TMax <= 0 {
		return base
	}
	e := min(epoch, s.TMax)
	return s.Min + (base-s.Min)*float32(1+math.Cos(math.Pi*float64(e)/float64(s.TMax)))/2
}
