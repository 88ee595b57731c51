package models

import (
	"fmt"
	"math/rand/v2"

	ag "ebyd/autograd"
	"ebyd/nn"
)

// ResNet18 is the CIFAR ResNet-18: a 3×3 stem without max pooling, four
// stages of two BasicBlocks, global average pooling and a linear head.
type ResNet18 struct {
	nn.Base
	Conv1  *nn.Conv2d
	BN1    *nn.BatchNorm2d
	Layers [4]*nn.Sequential
	Linear *nn.Linear
}

// BasicBlock is conv-BN-ReLU-conv-BN plus a shortcut, then ReLU.
type BasicBlock struct {
	nn.Base
	Conv1, Conv2 *nn.Conv2d
	BN1, BN2     *nn.BatchNorm2d
	Shortcut     *nn.Sequential // empty: identity
}

func init() {
	register(Spec{Name: "resnet18", DefaultWidth: 64, Sizes: atLeast(8), build: newResNet18, params: func(c Config) float64 { return resnetParams(c, false) }})
}

// stages adds layer1..layer4 of a CIFAR ResNet-18 to parent: two blocks per
// stage, widths w, 2w, 4w, 8w, the first block of stages 2–4 with stride 2.
func stages(parent *nn.Base, w int, block func(in, planes, stride int) nn.Module) [4]*nn.Sequential {
	var layers [4]*nn.Sequential
	in := w
	for s := range layers {
		planes := w << s
		seq := &nn.Sequential{}
		for i := 0; i < 2; i++ {
			stride := 1
			if s > 0 && i == 0 {
				stride = 2
			}
			seq.Append(block(in, planes, stride))
			in = planes
		}
		layers[s] = nn.AddChild(parent, fmt.Sprintf("layer%d", s+1), seq)
	}
	return layers
}

func conv3(in, out, stride int, r *rand.Rand) *nn.Conv2d {
	return nn.NewConv2d(in, out, 3, ag.ConvOpts{Stride: stride, Padding: 1}, false, r)
}

func newResNet18(c Config, r *rand.Rand) nn.Module {
	w := c.Width
	m := &ResNet18{}
	m.Conv1 = nn.AddChild(&m.Base, "conv1", conv3(c.InChannels, w, 1, r))
	m.BN1 = nn.AddChild(&m.Base, "bn1", nn.NewBatchNorm2d(w))
	m.Layers = stages(&m.Base, w, func(in, planes, stride int) nn.Module { return basicBlock(in, planes, stride, "shortcut", r) })
	m.Linear = nn.AddChild(&m.Base, "linear", nn.NewLinear(8*w, c.NumClasses, true, r))
	return m
}

// basicBlock is ResNet's two 3×3 convolutions with a projection shortcut
// (named shortcut, as kuangliu's, or downsample, as torchvision's) when the
// shape changes.
func basicBlock(in, planes, stride int, shortcut string, r *rand.Rand) *BasicBlock {
	b := &BasicBlock{}
	b.Conv1 = nn.AddChild(&b.Base, "conv1", conv3(in, planes, stride, r))
	b.BN1 = nn.AddChild(&b.Base, "bn1", nn.NewBatchNorm2d(planes))
	b.Conv2 = nn.AddChild(&b.Base, "conv2", conv3(planes, planes, 1, r))
	b.BN2 = nn.AddChild(&b.Base, "bn2", nn.NewBatchNorm2d(planes))
	b.Shortcut = nn.AddChild(&b.Base, shortcut, &nn.Sequential{})
	if stride != 1 || in != planes {
		b.Shortcut.Append(nn.NewConv2d(in, planes, 1, ag.ConvOpts{Stride: stride}, false, r))
		b.Shortcut.Append(nn.NewBatchNorm2d(planes))
	}
	return b
}

func (b *BasicBlock) Forward(x *ag.Var) *ag.Var {
	out := b.BN1.ForwardReLU(b.Conv1.Forward(x))
	out = b.BN2.Forward(b.Conv2.Forward(out))
	return b.Out(ag.ReLU(ag.Add(out, b.Shortcut.Forward(x))))
}

func (m *ResNet18) Forward(x *ag.Var) *ag.Var {
	out := m.BN1.ForwardReLU(m.Conv1.Forward(x))
	for _, l := range m.Layers {
		out = l.Forward(out)
	}
	return m.Out(m.Linear.Forward(ag.Flatten(ag.GlobalAvgPool2d(out))))
}

// PreActResNet18 is the pre-activation ResNet-18: BN-ReLU before each
// convolution, a final BN-ReLU (absent with Config.NoFinalBN, as in
// BackdoorBench's release), global average pooling, linear head.
type PreActResNet18 struct {
	nn.Base
	Conv1  *nn.Conv2d
	Layers [4]*nn.Sequential
	BN     *nn.BatchNorm2d // nil with Config.NoFinalBN
	Linear *nn.Linear
}

// PreActBlock is BN-ReLU-conv-BN-ReLU-conv plus a shortcut taken after the
// first BN-ReLU when it is a projection, from the raw input otherwise.
type PreActBlock struct {
	nn.Base
	BN1, BN2     *nn.BatchNorm2d
	Conv1, Conv2 *nn.Conv2d
	Shortcut     *nn.Sequential // nil: identity
}

func init() {
	register(Spec{Name: "preactresnet18", DefaultWidth: 64, Sizes: atLeast(8), build: newPreActResNet18, params: func(c Config) float64 { return resnetParams(c, true) }})
}

func newPreActResNet18(c Config, r *rand.Rand) nn.Module {
	w := c.Width
	m := &PreActResNet18{}
	m.Conv1 = nn.AddChild(&m.Base, "conv1", conv3(c.InChannels, w, 1, r))
	m.Layers = stages(&m.Base, w, func(in, planes, stride int) nn.Module {
		b := &PreActBlock{}
		b.BN1 = nn.AddChild(&b.Base, "bn1", nn.NewBatchNorm2d(in))
		b.Conv1 = nn.AddChild(&b.Base, "conv1", conv3(in, planes, stride, r))
		b.BN2 = nn.AddChild(&b.Base, "bn2", nn.NewBatchNorm2d(planes))
		b.Conv2 = nn.AddChild(&b.Base, "conv2", conv3(planes, planes, 1, r))
		if stride != 1 || in != planes {
			b.Shortcut = nn.AddChild(&b.Base, "shortcut",
				nn.NewSequential(nn.NewConv2d(in, planes, 1, ag.ConvOpts{Stride: stride}, false, r)))
		}
		return b
	})
	if !c.NoFinalBN {
		m.BN = nn.AddChild(&m.Base, "bn", nn.NewBatchNorm2d(8*w))
	}
	m.Linear = nn.AddChild(&m.Base, "linear", nn.NewLinear(8*w, c.NumClasses, true, r))
	return m
}

func (b *PreActBlock) Forward(x *ag.Var) *ag.Var {
	out := b.BN1.ForwardReLU(x)
	sc := x
	if b.Shortcut != nil {
		sc = b.Shortcut.Forward(out)
	}
	out = b.Conv1.Forward(out)
	out = b.Conv2.Forward(b.BN2.ForwardReLU(out))
	return b.Out(ag.Add(out, sc))
}

func (m *PreActResNet18) Forward(x *ag.Var) *ag.Var {
	out := m.Conv1.Forward(x)
	for _, l := range m.Layers {
		out = l.Forward(out)
	}
	if m.BN != nil {
		out = m.BN.ForwardReLU(out)
	}
	return m.Out(m.Linear.Forward(ag.Flatten(ag.GlobalAvgPool2d(out))))
}

// TVResNet18 is torchvision's ResNet-18 (torchvision.models.resnet18) with
// its parameter names: a 7×7 stride-2 stem with max pooling, "downsample"
// projections, adaptive average pooling and the head "fc". Width scales
// every channel count (64: torchvision's).
type TVResNet18 struct {
	nn.Base
	Conv1   *nn.Conv2d
	BN1     *nn.BatchNorm2d
	MaxPool *nn.MaxPool2d
	Layers  [4]*nn.Sequential
	FC      *nn.Linear
}

func init() {
	register(Spec{Name: "resnet18-tv", DefaultWidth: 64, Sizes: atLeast(8), build: newTVResNet18, params: tvResnetParams})
}

func newTVResNet18(c Config, r *rand.Rand) nn.Module {
	w := c.Width
	m := &TVResNet18{}
	m.Conv1 = nn.AddChild(&m.Base, "conv1", nn.NewConv2d(c.InChannels, w, 7, ag.ConvOpts{Stride: 2, Padding: 3}, false, r))
	m.BN1 = nn.AddChild(&m.Base, "bn1", nn.NewBatchNorm2d(w))
	m.MaxPool = nn.AddChild(&m.Base, "maxpool", &nn.MaxPool2d{Kernel: 3, Stride: 2, Padding: 1})
	m.Layers = stages(&m.Base, w, func(in, planes, stride int) nn.Module { return basicBlock(in, planes, stride, "downsample", r) })
	m.FC = nn.AddChild(&m.Base, "fc", nn.NewLinear(8*w, c.NumClasses, true, r))
	return m
}

func (m *TVResNet18) Forward(x *ag.Var) *ag.Var {
	out := m.MaxPool.Forward(m.BN1.ForwardReLU(m.Conv1.Forward(x)))
	for _, l := range m.Layers {
		out = l.Forward(out)
	}
	return m.Out(m.FC.Forward(ag.Flatten(ag.GlobalAvgPool2d(out))))
}
