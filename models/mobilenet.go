package models

import (
	"math/rand/v2"

	ag "ebyd/autograd"
	"ebyd/nn"
)

// MobileNetV2 is kuangliu's CIFAR MobileNetV2: stride 1 in the stem and the
// second stage, inverted residual blocks with plain ReLU, a 1×1 head conv to
// 40× the stem width, global average pooling and a linear layer.
type MobileNetV2 struct {
	nn.Base
	Conv1, Conv2 *nn.Conv2d
	BN1, BN2     *nn.BatchNorm2d
	Layers       *nn.Sequential
	Linear       *nn.Linear
}

// InvertedResidual expands with a 1×1 conv, filters depthwise, projects with
// a 1×1 conv; stride-1 blocks add a shortcut (a projection when the width
// changes), stride-2 blocks have none.
type InvertedResidual struct {
	nn.Base
	Conv1, Conv2, Conv3 *nn.Conv2d
	BN1, BN2, BN3       *nn.BatchNorm2d
	Shortcut            *nn.Sequential // nil for stride 2; empty: identity
}

// mobileCfg rows: expansion, output width at stem width 32, blocks, stride.
var mobileCfg = [][4]int{{1, 16, 1, 1}, {6, 24, 2, 1}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}}

func init() {
	register(Spec{Name: "mobilenetv2", DefaultWidth: 32, Sizes: atLeast(8), build: newMobileNetV2, params: mobilenetv2Params})
}

func newMobileNetV2(c Config, r *rand.Rand) nn.Module {
	w := c.Width
	scale := func(ch int) int { return ch * w / 32 }
	m := &MobileNetV2{}
	m.Conv1 = nn.AddChild(&m.Base, "conv1", conv3(c.InChannels, w, 1, r))
	m.BN1 = nn.AddChild(&m.Base, "bn1", nn.NewBatchNorm2d(w))
	m.Layers = nn.AddChild(&m.Base, "layers", &nn.Sequential{})
	in := w
	for _, row := range mobileCfg {
		exp, out, n, stride := row[0], scale(row[1]), row[2], row[3]
		for i := 0; i < n; i++ {
			if i > 0 {
				stride = 1
			}
			planes := exp * in
			b := &InvertedResidual{}
			b.Conv1 = nn.AddChild(&b.Base, "conv1", nn.NewConv2d(in, planes, 1, ag.ConvOpts{}, false, r))
			b.BN1 = nn.AddChild(&b.Base, "bn1", nn.NewBatchNorm2d(planes))
			b.Conv2 = nn.AddChild(&b.Base, "conv2", nn.NewConv2d(planes, planes, 3, ag.ConvOpts{Stride: stride, Padding: 1, Groups: planes}, false, r))
			b.BN2 = nn.AddChild(&b.Base, "bn2", nn.NewBatchNorm2d(planes))
			b.Conv3 = nn.AddChild(&b.Base, "conv3", nn.NewConv2d(planes, out, 1, ag.ConvOpts{}, false, r))
			b.BN3 = nn.AddChild(&b.Base, "bn3", nn.NewBatchNorm2d(out))
			// kuangliu registers the shortcut module for every block (empty
			// unless stride 1 with a width change) but applies it only at
			// stride 1.
			b.Shortcut = nn.AddChild(&b.Base, "shortcut", &nn.Sequential{})
			if stride == 1 && in != out {
				b.Shortcut.Append(nn.NewConv2d(in, out, 1, ag.ConvOpts{}, false, r))
				b.Shortcut.Append(nn.NewBatchNorm2d(out))
			}
			if stride != 1 {
				b.Shortcut = nil
			}
			m.Layers.Append(b)
			in = out
		}
	}
	m.Conv2 = nn.AddChild(&m.Base, "conv2", nn.NewConv2d(in, 40*w, 1, ag.ConvOpts{}, false, r))
	m.BN2 = nn.AddChild(&m.Base, "bn2", nn.NewBatchNorm2d(40*w))
	m.Linear = nn.AddChild(&m.Base, "linear", nn.NewLinear(40*w, c.NumClasses, true, r))
	return m
}

func (b *InvertedResidual) Forward(x *ag.Var) *ag.Var {
	out := b.BN1.ForwardReLU(b.Conv1.Forward(x))
	out = b.BN2.ForwardReLU(b.Conv2.Forward(out))
	out = b.BN3.Forward(b.Conv3.Forward(out))
	if b.Shortcut != nil {
		out = ag.Add(out, b.Shortcut.Forward(x))
	}
	return b.Out(out)
}

func (m *MobileNetV2) Forward(x *ag.Var) *ag.Var {
	out := m.BN1.ForwardReLU(m.Conv1.Forward(x))
	out = m.Layers.Forward(out)
	out = m.BN2.ForwardReLU(m.Conv2.Forward(out))
	return m.Out(m.Linear.Forward(ag.Flatten(ag.GlobalAvgPool2d(out))))
}
