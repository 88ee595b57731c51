package remove

import (
	"fmt"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/nn"
	"ebyd/tensor"
)

// Trigger is a trigger the defender recovered from the suspect model
// (Neural Cleanse for the detected target, package detect): a mask over
// the image plane and a pattern, on the [0,1] pixel scale, applied as
// (1 − m)⊙x + m⊙p. It is the defender's own estimate, made from defense
// data; the attack's true trigger never reaches a removal.
type Trigger struct {
	H, W, C int
	Mask    []float32 // H×W
	Pattern []float32 // H×W×C (HWC, as images are stored)
}

func (t *Trigger) check(ds *data.Dataset) error {
	if t.H != ds.H || t.W != ds.W || t.C != ds.C || len(t.Mask) != t.H*t.W || len(t.Pattern) != t.H*t.W*t.C {
		return fmt.Errorf("recovered trigger of %d×%d×%d (mask %d, pattern %d values) for %d×%d×%d images",
			t.H, t.W, t.C, len(t.Mask), len(t.Pattern), ds.H, ds.W, ds.C)
	}
	return nil
}

// stampedCE is the cross-entropy of m on a batch whose first share of
// images (the batch order is shuffled) carry the trigger, labels kept:
// Neural Cleanse's unlearning, which teaches the network that the trigger
// means nothing.
func stampedCE(m nn.Module, t *Trigger, share float64, ds *data.Dataset) func(x *tensor.Tensor, y []int) (*ag.Var, float32) {
	pat := t.normalised(ds)
	return func(x *tensor.Tensor, y []int) (*ag.Var, float32) {
		if n := int(share*float64(len(y)) + 0.5); n > 0 {
			x = x.Clone()
			t.stamp(x, n, pat)
		}
		l := ag.CrossEntropy(m.Forward(ag.Const(x)), y)
		return l, l.Item()
	}
}

// normalised is the pattern as the network sees it: CHW, normalised with
// the dataset's mean and std.
func (t *Trigger) normalised(ds *data.Dataset) []float32 {
	hw := t.H * t.W
	pat := make([]float32, t.C*hw)
	for c := range t.C {
		mean, std := float32(0), float32(1)
		if len(ds.Mean) == t.C {
			mean, std = ds.Mean[c], ds.Std[c]
		}
		for i := range hw {
			pat[c*hw+i] = (t.Pattern[i*t.C+c] - mean) / std
		}
	}
	return pat
}

// stamp blends the normalised pattern into the first n images of the
// normalised NCHW batch x: x ← (1 − m)⊙x + m⊙p, the same blend on raw
// pixels since normalisation is affine.
func (t *Trigger) stamp(x *tensor.Tensor, n int, pat []float32) {
	hw := t.H * t.W
	for i := range n {
		for c := range t.C {
			img := x.Data[(i*t.C+c)*hw : (i*t.C+c+1)*hw]
			p := pat[c*hw : (c+1)*hw]
			for j, mv := range t.Mask {
				img[j] = (1-mv)*img[j] + mv*p[j]
			}
		}
	}
}
