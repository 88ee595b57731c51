package models

import (
	"math/rand/v2"

	ag "ebyd/autograd"
	"ebyd/nn"
)

// TVVGG16 is torchvision's VGG-16 (torchvision.models.vgg16, or vgg16_bn
// with BatchNorm): `features` as configuration "D" (conv with bias,
// [BN,] ReLU, max pools), adaptive average pooling to 7×7, and the
// classifier Linear-ReLU-Dropout-Linear-ReLU-Dropout-Linear (classifier.0,
// .3, .6). Width scales every channel count: the convolutions by width/64,
// the 4096 hidden units too (64: torchvision's).
type TVVGG16 struct {
	nn.Base
	Features   *nn.Sequential
	Classifier *nn.Sequential
}

func init() {
	for _, bn := range []bool{false, true} {
		name := "vgg16-tv"
		if bn {
			name = "vgg16bn-tv"
		}
		register(Spec{Name: name, DefaultWidth: 64, Sizes: atLeast(32),
			build:  func(c Config, r *rand.Rand) nn.Module { return newTVVGG16(c, bn, r) },
			params: func(c Config) float64 { return tvVGG16Params(c, bn) }})
	}
}

func newTVVGG16(c Config, bn bool, r *rand.Rand) nn.Module {
	m := &TVVGG16{}
	f, in := vgg16Features(c, bn, r)
	m.Features = nn.AddChild(&m.Base, "features", f)
	hidden := 4096 * c.Width / 64
	drop := func(seed uint64) *nn.Dropout { return &nn.Dropout{P: 0.5, Rng: rand.New(rand.NewPCG(c.Seed, seed))} }
	m.Classifier = nn.AddChild(&m.Base, "classifier", nn.NewSequential(
		nn.NewLinear(in*49, hidden, true, r), &nn.ReLU{}, drop(4),
		nn.NewLinear(hidden, hidden, true, r), &nn.ReLU{}, drop(5),
		nn.NewLinear(hidden, c.NumClasses, true, r)))
	return m
}

func (m *TVVGG16) Forward(x *ag.Var) *ag.Var {
	out := ag.AdaptiveAvgPool2d(m.Features.Forward(x), 7, 7)
	return m.Out(m.Classifier.Forward(ag.Flatten(out)))
}

func tvVGG16Params(c Config, bn bool) float64 {
	var n float64
	in := c.InChannels
	for _, v := range vgg16Cfg {
		if v == 0 {
			continue
		}
		out := v * c.Width / 64
		n += convParams(in, out, 3, 1, true)
		if bn {
			n += bnParams(out)
		}
		in = out
	}
	hidden := 4096 * c.Width / 64
	return n + linearParams(float64(in)*49, hidden) + linearParams(float64(hidden), hidden) + linearParams(float64(hidden), c.NumClasses)
}
