package attack

import (
	"fmt"
	"math/rand/v2"

	ag "ebyd/autograd"
	"ebyd/nn"
)

// The generator network of the input-aware dynamic attack (networks/models.py
// Generator and networks/blocks.py of Nguyen and Tran's release), with the
// same module and parameter names, so that its state dict reads like
// theirs: "convblock_down_0.conv2d.weight", "convblock_up_3.batch_norm.bias".
//
// With channel width c and s steps, for input channels in and output
// channels out:
//
//	s × (down)  convblock_down_{2i}, convblock_down_{2i+1}, downsample_i (2×2 max pool)
//	            channels in → c → c, then c → 2c → 2c, ... (doubling until c·2^(s-1))
//	convblock_middle
//	s × (up)    upsample_i (bilinear ×2), convblock_up_{2i}, convblock_up_{2i+1}
//	            halving the channels, the last block to out channels without ReLU
//
// Every convblock is a 3×3 convolution with bias and padding 1, then a
// BatchNorm (eps 1e-5, momentum 0.05), then a ReLU (except the very last).
// The output is tanh(z)/(2+1e-7) + 0.5, in (0, 1).
type iadGenerator struct {
	nn.Base
	layers []nn.Module
}

// iadEpsilon is the official _EPSILON that keeps the outputs inside (0, 1).
const iadEpsilon = 1e-7

func newIADGenerator(in, out, width, steps int, r *rand.Rand) *iadGenerator {
	if steps < 2 {
		// With one step the official loop never switches to out channels.
		panic("attack: iad generator needs at least 2 steps")
	}
	g := &iadGenerator{}
	add := func(name string, m nn.Module) { g.layers = append(g.layers, nn.AddChild(&g.Base, name, m)) }
	cur, next := in, width
	for step := range steps {
		add(fmt.Sprintf("convblock_down_%d", 2*step), newIADConvBlock(cur, next, true, r))
		add(fmt.Sprintf("convblock_down_%d", 2*step+1), newIADConvBlock(next, next, true, r))
		down := &iadDown{}
		down.Pool = nn.AddChild(&down.Base, "maxpooling", &nn.MaxPool2d{Kernel: 2, Stride: 2})
		add(fmt.Sprintf("downsample_%d", step), down)
		if step < steps-1 {
			cur, next = next, next*2
		}
	}
	add("convblock_middle", newIADConvBlock(next, next, true, r))
	cur, next = next, next/2
	for step := range steps {
		up := &iadUp{}
		up.Up = nn.AddChild(&up.Base, "upsample", &iadUpsample{Scale: 2})
		add(fmt.Sprintf("upsample_%d", step), up)
		add(fmt.Sprintf("convblock_up_%d", 2*step), newIADConvBlock(cur, cur, true, r))
		add(fmt.Sprintf("convblock_up_%d", 2*step+1), newIADConvBlock(cur, next, step < steps-1, r))
		cur, next = next, next/2
		if step == steps-2 {
			next = out
		}
	}
	return nn.Build(g)
}

// Forward maps normalised images [N, in, H, W] to [N, out, H, W] in (0, 1).
func (g *iadGenerator) Forward(x *ag.Var) *ag.Var {
	for _, l := range g.layers {
		x = l.Forward(x)
	}
	return g.Out(ag.AddScalar(ag.Scale(ag.Tanh(x), float32(1/(2+iadEpsilon))), 0.5))
}

// iadThreshold is the official Generator.threshold, applied to the mask
// generator's output: tanh(20z − 10)/(2+1e-7) + 0.5, a steep step at z = 0.5.
func iadThreshold(z *ag.Var) *ag.Var {
	return ag.AddScalar(ag.Scale(ag.Tanh(ag.AddScalar(ag.Scale(z, 20), -10)), float32(1/(2+iadEpsilon))), 0.5)
}

// iadConvBlock is the official Conv2dBlock: conv2d, batch_norm, relu.
type iadConvBlock struct {
	nn.Base
	Conv *nn.Conv2d
	BN   *nn.BatchNorm2d
	ReLU bool
}

func newIADConvBlock(in, out int, relu bool, r *rand.Rand) *iadConvBlock {
	b := &iadConvBlock{ReLU: relu}
	b.Conv = nn.AddChild(&b.Base, "conv2d", nn.NewConv2d(in, out, 3, ag.ConvOpts{Padding: 1}, true, r))
	b.BN = nn.AddChild(&b.Base, "batch_norm", nn.NewBatchNorm2d(out))
	b.BN.Momentum = 0.05
	return b
}

func (b *iadConvBlock) Forward(x *ag.Var) *ag.Var {
	x = b.Conv.Forward(x)
	if b.ReLU {
		return b.Out(b.BN.ForwardReLU(x))
	}
	return b.Out(b.BN.Forward(x))
}

// iadDown is the official DownSampleBlock: 2×2 max pooling ("maxpooling").
type iadDown struct {
	nn.Base
	Pool *nn.MaxPool2d
}

func (d *iadDown) Forward(x *ag.Var) *ag.Var { return d.Out(d.Pool.Forward(x)) }

// iadUp is the official UpSampleBlock: bilinear ×2 upsampling ("upsample").
type iadUp struct {
	nn.Base
	Up *iadUpsample
}

func (u *iadUp) Forward(x *ag.Var) *ag.Var { return u.Out(u.Up.Forward(x)) }

// iadUpsample is nn.Upsample(scale_factor=Scale, mode='bilinear').
type iadUpsample struct {
	nn.Base
	Scale int
}

func (u *iadUpsample) Forward(x *ag.Var) *ag.Var {
	if s := x.Value.Shape; len(s) != 4 {
		panic(nn.ShapeError{Module: u.Path(), Msg: fmt.Sprintf("expects [N, C, H, W], got %v", s)})
	}
	return u.Out(ag.UpsampleBilinear2d(x, u.Scale))
}
