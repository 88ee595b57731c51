package models

import (
	"math/rand/v2"

	ag "ebyd/autograd"
	"ebyd/nn"
)

// TVMobileNetV2 is torchvision's MobileNetV2 (torchvision.models.mobilenet_v2)
// with its parameter names: features.N (a stride-2 stem, inverted residual
// blocks "conv.…", a 1×1 conv to 1280), ReLU6, global average pooling and
// classifier.1 after a dropout of 0.2. Width is the stem's channel count:
// width_mult = width/32, channel counts rounded to multiples of 8 as
// torchvision does, the last conv keeping 1280 below width_mult 1.
type TVMobileNetV2 struct {
	nn.Base
	Features   *nn.Sequential
	Classifier *nn.Sequential
}

// TVInvertedResidual is torchvision's block: conv holds the expansion (when
// the ratio is not 1), the depthwise conv and the projection; stride-1
// blocks of unchanged width add their input.
type TVInvertedResidual struct {
	nn.Base
	Conv     *nn.Sequential
	Residual bool
}

// ReLU6 is min(max(x, 0), 6).
type ReLU6 struct{ nn.Base }

func (m *ReLU6) Forward(x *ag.Var) *ag.Var { return m.Out(ag.Clamp(x, 0, 6)) }

// tvMobileCfg rows: expansion, output channels at width_mult 1, blocks, stride.
var tvMobileCfg = [][4]int{{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}}

func init() {
	register(Spec{Name: "mobilenetv2-tv", DefaultWidth: 32, Sizes: atLeast(8), build: newTVMobileNetV2, params: tvMobilenetv2Params})
}

// makeDivisible is torchvision's _make_divisible(v, 8).
func makeDivisible(v float64) int {
	n := max(8, int(v+4)/8*8)
	if float64(n) < 0.9*v {
		n += 8
	}
	return n
}

// tvMobileWidths gives the stem, per-row output and last channel counts.
func tvMobileWidths(width int) (stem int, rows []int, last int) {
	wm := float64(width) / 32
	stem = makeDivisible(32 * wm)
	for _, row := range tvMobileCfg {
		rows = append(rows, makeDivisible(float64(row[1])*wm))
	}
	return stem, rows, makeDivisible(1280 * max(1, wm))
}

// tvMobileBlocks calls f for every inverted residual block.
func tvMobileBlocks(width int, f func(in, out, stride, exp int)) {
	stem, rows, _ := tvMobileWidths(width)
	in := stem
	for i, row := range tvMobileCfg {
		for j := 0; j < row[2]; j++ {
			stride := row[3]
			if j > 0 {
				stride = 1
			}
			f(in, rows[i], stride, row[0])
			in = rows[i]
		}
	}
}

// convBNReLU6 is torchvision's Conv2dNormActivation: conv (no bias), BN, ReLU6.
func convBNReLU6(in, out, k, stride, groups int, r *rand.Rand) *nn.Sequential {
	return nn.NewSequential(
		nn.NewConv2d(in, out, k, ag.ConvOpts{Stride: stride, Padding: (k - 1) / 2, Groups: groups}, false, r),
		nn.NewBatchNorm2d(out), &ReLU6{})
}

func newTVMobileNetV2(c Config, r *rand.Rand) nn.Module {
	stem, _, last := tvMobileWidths(c.Width)
	m := &TVMobileNetV2{}
	m.Features = nn.AddChild(&m.Base, "features", &nn.Sequential{})
	m.Features.Append(convBNReLU6(c.InChannels, stem, 3, 2, 1, r))
	in := stem
	tvMobileBlocks(c.Width, func(inp, out, stride, exp int) {
		hidden := inp * exp
		b := &TVInvertedResidual{Residual: stride == 1 && inp == out}
		b.Conv = nn.AddChild(&b.Base, "conv", &nn.Sequential{})
		if exp != 1 {
			b.Conv.Append(convBNReLU6(inp, hidden, 1, 1, 1, r))
		}
		b.Conv.Append(convBNReLU6(hidden, hidden, 3, stride, hidden, r))
		b.Conv.Append(nn.NewConv2d(hidden, out, 1, ag.ConvOpts{}, false, r))
		b.Conv.Append(nn.NewBatchNorm2d(out))
		m.Features.Append(b)
		in = out
	})
	m.Features.Append(convBNReLU6(in, last, 1, 1, 1, r))
	m.Classifier = nn.AddChild(&m.Base, "classifier", nn.NewSequential(
		&nn.Dropout{P: 0.2, Rng: rand.New(rand.NewPCG(c.Seed, 3))},
		nn.NewLinear(last, c.NumClasses, true, r)))
	return m
}

func (b *TVInvertedResidual) Forward(x *ag.Var) *ag.Var {
	out := b.Conv.Forward(x)
	if b.Residual {
		out = ag.Add(out, x)
	}
	return b.Out(out)
}

func (m *TVMobileNetV2) Forward(x *ag.Var) *ag.Var {
	out := m.Features.Forward(x)
	return m.Out(m.Classifier.Forward(ag.Flatten(ag.GlobalAvgPool2d(out))))
}

func tvMobilenetv2Params(c Config) float64 {
	stem, _, last := tvMobileWidths(c.Width)
	n := convParams(c.InChannels, stem, 3, 1, false) + bnParams(stem)
	in := stem
	tvMobileBlocks(c.Width, func(inp, out, _, exp int) {
		hidden := inp * exp
		if exp != 1 {
			n += convParams(inp, hidden, 1, 1, false) + bnParams(hidden)
		}
		n += convParams(hidden, hidden, 3, hidden, false) + bnParams(hidden)
		n += convParams(hidden, out, 1, 1, false) + bnParams(out)
		in = out
	})
	n += convParams(in, last, 1, 1, false) + bnParams(last)
	return n + linearParams(float64(last), c.NumClasses)
}
