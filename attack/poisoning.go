package attack

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"ebyd/data"
	"ebyd/tensor"
)

// Mode is how poisoned training images are labelled.
type Mode string

// The poisoning modes.
const (
	All2One    Mode = "all2one"     // relabel to the target
	All2All    Mode = "all2all"     // relabel y to (y+1) mod K
	CleanLabel Mode = "clean-label" // trigger target-class images only, keep labels
)

// Modes lists the poisoning modes.
var Modes = []Mode{All2One, All2All, CleanLabel}

// Poisoning says which training images get the trigger and what they are
// labelled: Rate·N images (N the training set size) drawn from Seed alone.
// In clean-label mode the Rate·N images are drawn from the target class only,
// so Rate cannot exceed the target class's share of the training set.
type Poisoning struct {
	Mode   Mode    `json:"mode"`
	Target int     `json:"target"` // ignored by all2all
	Rate   float64 `json:"rate"`   // in (0, 1]
	Seed   uint64  `json:"seed"`
}

// Validate checks the poisoning against a dataset of the given class count.
func (p *Poisoning) Validate(classes int) error {
	p.Mode = Mode(strings.ToLower(string(p.Mode)))
	switch {
	case p.Mode != All2One && p.Mode != All2All && p.Mode != CleanLabel:
		return fmt.Errorf("unknown poisoning mode %q (known: all2one, all2all, clean-label)", p.Mode)
	case !(p.Rate > 0 && p.Rate <= 1):
		return fmt.Errorf("poison rate %g: must be in (0, 1]", p.Rate)
	case p.Mode != All2All && (p.Target < 0 || p.Target >= classes):
		return fmt.Errorf("target %d: the dataset's labels are 0..%d", p.Target, classes-1)
	}
	return nil
}

// Label is the label a triggered image of true label y must be given, and
// is predicted as, under p, for a dataset of the given class count.
func (p Poisoning) Label(y, classes int) int {
	if p.Mode == All2All {
		return (y + 1) % classes
	}
	return p.Target
}

// Perturber is a trigger that first changes the images it poisons in a way
// that depends on all of them together (the label-consistent attack's
// adversarial perturbation). Poison calls Perturb on the training set with the
// chosen indices before stamping the trigger.
type Perturber interface {
	Perturb(ds *data.Dataset, indices []int) error
}

// Crosser is a trigger with a noise ("cross") mode, like WaNet's: a share of
// the training images that are not poisoned get a randomised variant of the
// trigger and keep their label, so that the model learns the exact trigger and
// not any similar distortion.
type Crosser interface {
	// CrossRatio is the number of cross images per poisoned image.
	CrossRatio() float64
	// Cross applies a random variant of the trigger drawn from r, in place.
	Cross(img []uint8, r *rand.Rand)
}

// Poisoned is a poisoned training set.
type Poisoned struct {
	Data    *data.Dataset
	Indices []int // images that carry the trigger, ascending
	Cross   []int // images that carry a noise-mode variant (Crosser), ascending
}

// Select returns the indices of the training images p poisons, ascending.
func (p Poisoning) Select(train *data.Dataset) ([]int, error) {
	if err := p.Validate(train.Classes); err != nil {
		return nil, err
	}
	// Rounded down as the seed does; the epsilon keeps a rate computed as
	// k/N from losing an image to floating point.
	k := int(float64(train.N)*p.Rate + 1e-9)
	if k < 1 {
		return nil, fmt.Errorf("poison rate %g of %d training images poisons none; raise the rate", p.Rate, train.N)
	}
	if p.Mode != CleanLabel {
		return data.RandomSubset(train.N, k, p.Seed), nil
	}
	var pool []int
	for i, y := range train.Labels {
		if y == p.Target {
			pool = append(pool, i)
		}
	}
	if k > len(pool) {
		return nil, fmt.Errorf("clean-label poison rate %g needs %d images of the target class %d, which has %d of %d training images; use a rate of at most %.4f",
			p.Rate, k, p.Target, len(pool), train.N, float64(len(pool))/float64(train.N))
	}
	idx := data.RandomSubset(len(pool), k, p.Seed)
	for j, i := range idx {
		idx[j] = pool[i]
	}
	return idx, nil
}

// Poison returns a poisoned copy of train: the images p selects get trigger t
// and the label of p's mode. train itself is not changed.
func Poison(train *data.Dataset, t Trigger, p Poisoning) (*Poisoned, error) {
	idx, err := p.Select(train)
	if err != nil {
		return nil, err
	}
	ds := train.Clone()
	if pt, ok := t.(Perturber); ok {
		if err := pt.Perturb(ds, idx); err != nil {
			return nil, err
		}
	}
	applyAt(t, ds, idx)
	for _, i := range idx {
		ds.Labels[i] = p.Label(ds.Labels[i], ds.Classes)
	}
	out := &Poisoned{Data: ds, Indices: idx}
	if c, ok := t.(Crosser); ok {
		out.Cross = crossIndices(ds.N, idx, int(c.CrossRatio()*float64(len(idx))), p.Seed)
		for _, i := range out.Cross {
			// One generator per image: the draw depends on the image's index
			// alone, not on the order or the number of workers.
			c.Cross(ds.Image(i), rand.New(rand.NewPCG(p.Seed, streamCross+uint64(i))))
		}
	}
	return out, nil
}

const streamCross = 0x63726f737300000 // "cross"

// crossIndices draws k of the images not in poisoned (ascending) from seed.
func crossIndices(n int, poisoned []int, k int, seed uint64) []int {
	in := make([]bool, n)
	for _, i := range poisoned {
		in[i] = true
	}
	var rest []int
	for i := range n {
		if !in[i] {
			rest = append(rest, i)
		}
	}
	k = min(k, len(rest))
	if k <= 0 {
		return nil
	}
	pick := data.RandomSubset(len(rest), k, seed^streamCross)
	for j, i := range pick {
		pick[j] = rest[i]
	}
	return pick
}

// TestSet returns the triggered test set on which attack success rate is
// measured (DESIGN §6): for all2one and clean-label, every image of test whose
// true label is not the target, triggered and labelled with the target; for
// all2all, every image, triggered and labelled (y+1) mod K. The accuracy of a
// model on it is the ASR.
func TestSet(test *data.Dataset, t Trigger, p Poisoning) (*data.Dataset, error) {
	if err := p.Validate(test.Classes); err != nil {
		return nil, err
	}
	var keep []int
	for i, y := range test.Labels {
		if p.Mode == All2All || y != p.Target {
			keep = append(keep, i)
		}
	}
	ds := test.Subset(keep)
	all := make([]int, ds.N)
	for i := range all {
		all[i] = i
		ds.Labels[i] = p.Label(ds.Labels[i], ds.Classes)
	}
	applyAt(t, ds, all)
	return ds, nil
}

// Stamp returns a copy of ds with t applied to every image; labels are kept.
func Stamp(ds *data.Dataset, t Trigger) *data.Dataset {
	out := ds.Clone()
	all := make([]int, ds.N)
	for i := range all {
		all[i] = i
	}
	applyAt(t, out, all)
	return out
}

// BatchApplier is a trigger that stamps many images faster together than one
// by one (a generator network).
type BatchApplier interface {
	// ApplyBatch stamps each of the len(imgs)/size images held back to back
	// in imgs, in place.
	ApplyBatch(imgs []uint8)
}

// applyAt stamps t on the images of ds at idx. Apply is required to be
// deterministic per image, so the work is split over the cores.
func applyAt(t Trigger, ds *data.Dataset, idx []int) {
	if b, ok := t.(BatchApplier); ok {
		sub := ds.Subset(idx)
		b.ApplyBatch(sub.Images)
		for j, i := range idx {
			copy(ds.Image(i), sub.Image(j))
		}
		return
	}
	tensor.Parallel(len(idx), func(_, lo, hi int) {
		for _, i := range idx[lo:hi] {
			t.Apply(ds.Image(i))
		}
	})
}
