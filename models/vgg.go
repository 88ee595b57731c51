package models

import (
	"fmt"
	"math/rand/v2"

	ag "ebyd/autograd"
	"ebyd/nn"
)

// VGG16 is kuangliu's CIFAR VGG16 with BatchNorm: `features` holds conv
// (with bias), BN and ReLU per layer and max pools, then a 1×1 average pool
// that does nothing (kept so the indices match); `classifier` is one linear
// layer on the flattened 1×1 map.
type VGG16 struct {
	nn.Base
	Features   *nn.Sequential
	Classifier *nn.Linear
}

var vgg16Cfg = []int{64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0} // 0: max pool

func init() {
	register(Spec{Name: "vgg16", DefaultWidth: 64, Sizes: func(s int) error {
		if s < 32 || s%32 != 0 {
			return fmt.Errorf("input size %d: five 2×2 max pools need a multiple of 32", s)
		}
		return nil
	}, build: newVGG16, params: vgg16Params})
}

// vgg16Features is VGG-16's convolution stack (with BatchNorm when bn),
// its channels scaled by width/64, and the channels it ends with.
func vgg16Features(c Config, bn bool, r *rand.Rand) (*nn.Sequential, int) {
	f := &nn.Sequential{}
	in := c.InChannels
	for _, v := range vgg16Cfg {
		if v == 0 {
			f.Append(&nn.MaxPool2d{Kernel: 2, Stride: 2})
			continue
		}
		out := v * c.Width / 64
		f.Append(nn.NewConv2d(in, out, 3, ag.ConvOpts{Padding: 1}, true, r))
		if bn {
			f.Append(nn.NewBatchNorm2d(out))
		}
		f.Append(&nn.ReLU{})
		in = out
	}
	return f, in
}

func newVGG16(c Config, r *rand.Rand) nn.Module {
	m := &VGG16{}
	f, in := vgg16Features(c, true, r)
	f.Append(&nn.AvgPool2d{Kernel: 1, Stride: 1})
	m.Features = nn.AddChild(&m.Base, "features", f)
	side := c.InputSize / 32
	m.Classifier = nn.AddChild(&m.Base, "classifier", nn.NewLinear(in*side*side, c.NumClasses, true, r))
	return m
}

func (m *VGG16) Forward(x *ag.Var) *ag.Var {
	return m.Out(m.Classifier.Forward(ag.Flatten(m.Features.Forward(x))))
}
