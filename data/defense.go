package data

import (
	"fmt"
	"slices"
)

// Defense is what a defender may see: a seeded random subset of a dataset's
// clean training split, with its true labels, and nothing else. Exposure,
// detection and removal take a *Defense, never a *Dataset, so that poisoned
// images and test labels cannot reach them through their inputs; the images
// are copied, so the subset cannot be used to reach the split it came from.
type Defense struct {
	set     *Dataset
	indices []int
	seed    uint64
}

// NewDefense draws n images of the clean training split train from seed
// (data.RandomSubset). train must be the clean split: the caller (the run
// stage) is the only place that knows.
func NewDefense(train *Dataset, n int, seed uint64) (*Defense, error) {
	if n < 1 || n > train.N {
		return nil, fmt.Errorf("defense set of %d images: want 1 to %d (the training split's size)", n, train.N)
	}
	idx := RandomSubset(train.N, n, seed)
	return &Defense{set: train.Subset(idx), indices: idx, seed: seed}, nil
}

// Len is the number of defense images.
func (d *Defense) Len() int { return d.set.N }

// Indices are the images' positions in the training split, ascending (for
// defense_indices.json).
func (d *Defense) Indices() []int { return slices.Clone(d.indices) }

// Seed is the seed the subset was drawn from.
func (d *Defense) Seed() uint64 { return d.seed }

// Data returns a copy of the defense images as a dataset (with the split's
// normalisation), e.g. to batch it or to split it further.
func (d *Defense) Data() *Dataset { return d.set.Clone() }

// Classes is the number of classes.
func (d *Defense) Classes() int { return d.set.Classes }

// Split divides the defense images into k disjoint parts of nearly equal
// size, in a seeded order: independent subsets to check a finding on.
func (d *Defense) Split(k int, seed uint64) ([]*Defense, error) {
	if k < 1 || k > d.set.N {
		return nil, fmt.Errorf("cannot split %d defense images into %d parts", d.set.N, k)
	}
	p := make([]int, d.set.N)
	for i := range p {
		p[i] = i
	}
	shuffle(newRand(seed, streamSubset, 1), p, len(p))
	parts := make([]*Defense, k)
	for j := range k {
		lo, hi := j*d.set.N/k, (j+1)*d.set.N/k
		sel := slices.Clone(p[lo:hi])
		slices.Sort(sel)
		orig := make([]int, len(sel))
		for i, s := range sel {
			orig[i] = d.indices[s]
		}
		parts[j] = &Defense{set: d.set.Subset(sel), indices: orig, seed: d.seed}
	}
	return parts, nil
}
