package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	ag "ebyd/autograd"
	"ebyd/tensor"
)

// Conv2d is a 2-D convolution layer with parameters "weight" and, optionally,
// "bias".
type Conv2d struct {
	Base
	Weight, Bias *ag.Var
	Opts         ag.ConvOpts
}

// NewConv2d makes a convolution from in to out channels with a k×k kernel,
// initialised as PyTorch does from r.
func NewConv2d(in, out, k int, o ag.ConvOpts, bias bool, r *rand.Rand) *Conv2d {
	g := max(o.Groups, 1)
	c := &Conv2d{Opts: o}
	bound := 1 / math.Sqrt(float64(in/g*k*k))
	c.Weight = c.AddParam("weight", uniform(tensor.New(out, in/g, k, k), bound, r))
	if bias {
		c.Bias = c.AddParam("bias", uniform(tensor.New(out), bound, r))
	}
	return c
}

func (c *Conv2d) Forward(x *ag.Var) *ag.Var {
	want := c.Weight.Value.Shape[1] * max(c.Opts.Groups, 1)
	if s := x.Value.Shape; len(s) != 4 || s[1] != want {
		panic(ShapeError{c.path, fmt.Sprintf("expects [N, %d, H, W], got %v", want, s)})
	}
	kh, kw, p := c.Weight.Value.Shape[2], c.Weight.Value.Shape[3], c.Opts.Padding
	if s := x.Value.Shape; s[2]+2*p < kh || s[3]+2*p < kw {
		panic(ShapeError{c.path, fmt.Sprintf("has a %dx%d kernel with padding %d: input %v is too small", kh, kw, p, s)})
	}
	return c.Out(ag.Conv2d(x, c.Weight, c.Bias, c.Opts))
}

// Linear is a dense layer with parameters "weight" [out, in] and "bias".
type Linear struct {
	Base
	Weight, Bias *ag.Var
}

// NewLinear makes a dense layer initialised as PyTorch does from r.
func NewLinear(in, out int, bias bool, r *rand.Rand) *Linear {
	l := &Linear{}
	bound := 1 / math.Sqrt(float64(in))
	l.Weight = l.AddParam("weight", uniform(tensor.New(out, in), bound, r))
	if bias {
		l.Bias = l.AddParam("bias", uniform(tensor.New(out), bound, r))
	}
	return l
}

func (l *Linear) Forward(x *ag.Var) *ag.Var {
	if s := x.Value.Shape; len(s) != 2 || s[1] != l.Weight.Value.Shape[1] {
		panic(ShapeError{l.path, fmt.Sprintf("expects [N, %d], got %v", l.Weight.Value.Shape[1], s)})
	}
	return l.Out(ag.Linear(x, l.Weight, l.Bias))
}

// BatchNorm2d normalises each channel, with parameters "weight" and "bias" and
// buffers "running_mean", "running_var" and "num_batches_tracked" as PyTorch.
//
// Mask, WeightNoise, BiasNoise, WeightShift and BiasShift, when set ([C]
// Vars), edit the layer as pruning and perturbation defenses need: the
// effective weight is weight·Mask·(1+WeightNoise) + WeightShift and the
// effective bias bias·(1+BiasNoise) + BiasShift (RNP's masks, ANP's
// multiplicative neuron noise, additive weight perturbations). Gradients flow
// to them like to any Var.
type BatchNorm2d struct {
	Base
	Weight, Bias                        *ag.Var
	RunningMean, RunningVar, NumBatches *tensor.Tensor
	Momentum, Eps                       float32
	Mask, WeightNoise, BiasNoise        *ag.Var
	WeightShift, BiasShift              *ag.Var
	// FrozenStats keeps the running statistics (and evaluation-mode
	// normalisation) even while the layer is in training mode.
	FrozenStats bool
}

// NewBatchNorm2d makes a BatchNorm over c channels with PyTorch's defaults
// (weight 1, bias 0, momentum 0.1, eps 1e-5).
func NewBatchNorm2d(c int) *BatchNorm2d {
	b := &BatchNorm2d{Momentum: 0.1, Eps: 1e-5}
	b.Weight = b.AddParam("weight", tensor.Full(1, c))
	b.Bias = b.AddParam("bias", tensor.New(c))
	b.RunningMean = b.AddBuffer("running_mean", tensor.New(c))
	b.RunningVar = b.AddBuffer("running_var", tensor.Full(1, c))
	b.NumBatches = b.AddBuffer("num_batches_tracked", tensor.New())
	return b
}

// Channels is the number of channels normalised.
func (b *BatchNorm2d) Channels() int { return b.Weight.Value.Len() }

func (b *BatchNorm2d) Forward(x *ag.Var) *ag.Var { return b.Out(b.forward(x, false)) }

// ForwardReLU is ReLU(Forward(x)) computed in one pass. A hook on the layer
// still sees the BatchNorm output before the ReLU: with a hook set, the two
// run apart.
func (b *BatchNorm2d) ForwardReLU(x *ag.Var) *ag.Var {
	if b.hooks[b.path] != nil {
		return ag.ReLU(b.Forward(x))
	}
	return b.forward(x, true)
}

func (b *BatchNorm2d) forward(x *ag.Var, relu bool) *ag.Var {
	if s := x.Value.Shape; len(s) != 4 || s[1] != b.Channels() {
		panic(ShapeError{b.path, fmt.Sprintf("expects [N, %d, H, W], got %v", b.Channels(), s)})
	}
	w, bias := b.Weight, b.Bias
	if b.Mask != nil {
		w = ag.Mul(w, b.Mask)
	}
	if b.WeightNoise != nil {
		w = ag.Mul(w, ag.AddScalar(b.WeightNoise, 1))
	}
	if b.WeightShift != nil {
		w = ag.Add(w, b.WeightShift)
	}
	if b.BiasNoise != nil {
		bias = ag.Mul(bias, ag.AddScalar(b.BiasNoise, 1))
	}
	if b.BiasShift != nil {
		bias = ag.Add(bias, b.BiasShift)
	}
	train := b.training && !b.FrozenStats
	if s := x.Value.Shape; train && s[0]*s[2]*s[3] < 2 {
		panic(ShapeError{b.path, fmt.Sprintf("needs more than one value per channel in training mode, got input %v", s)})
	}
	if train {
		b.NumBatches.Data[0]++
	}
	return ag.BatchNorm2d(x, w, bias, b.RunningMean, b.RunningVar,
		ag.BatchNormOpts{Training: train, Momentum: b.Momentum, Eps: b.Eps, ReLU: relu})
}

// ReLU is the rectifier as a module, so that hooks can address it.
type ReLU struct{ Base }

func (m *ReLU) Forward(x *ag.Var) *ag.Var { return m.Out(ag.ReLU(x)) }

// MaxPool2d is a max-pooling layer.
type MaxPool2d struct {
	Base
	Kernel, Stride, Padding int
}

func (m *MaxPool2d) Forward(x *ag.Var) *ag.Var {
	if s := x.Value.Shape; len(s) != 4 || s[2]+2*m.Padding < m.Kernel || s[3]+2*m.Padding < m.Kernel {
		panic(ShapeError{m.path, fmt.Sprintf("has a %dx%d window with padding %d: input %v is too small", m.Kernel, m.Kernel, m.Padding, x.Value.Shape)})
	}
	return m.Out(ag.MaxPool2d(x, m.Kernel, m.Stride, m.Padding))
}

// AvgPool2d is an average-pooling layer without padding.
type AvgPool2d struct {
	Base
	Kernel, Stride int
}

func (m *AvgPool2d) Forward(x *ag.Var) *ag.Var { return m.Out(ag.AvgPool2d(x, m.Kernel, m.Stride)) }

// Dropout zeroes inputs with probability P in training mode, drawing its masks
// from its own seeded generator.
type Dropout struct {
	Base
	P   float32
	Rng *rand.Rand
	// Src, when set, is Rng's source: a checkpoint saves and restores its
	// state (MarshalBinary), so that resumed training draws the masks an
	// uninterrupted run would.
	Src *rand.PCG
}

// NewDropout is a Dropout drawing from a PCG seeded with (seed, stream).
func NewDropout(p float32, seed, stream uint64) *Dropout {
	src := rand.NewPCG(seed, stream)
	return &Dropout{P: p, Rng: rand.New(src), Src: src}
}

func (m *Dropout) Forward(x *ag.Var) *ag.Var {
	if !m.training || m.P == 0 {
		return m.Out(x)
	}
	return m.Out(ag.Dropout(x, m.P, m.Rng))
}

// Identity returns its input (PyTorch's empty nn.Sequential shortcut).
type Identity struct{ Base }

func (m *Identity) Forward(x *ag.Var) *ag.Var { return m.Out(x) }

// Sequential runs its children in order; they are named "0", "1", ….
type Sequential struct {
	Base
	Layers []Module
}

// NewSequential makes a Sequential of the given layers.
func NewSequential(layers ...Module) *Sequential {
	s := &Sequential{}
	for _, l := range layers {
		s.Append(l)
	}
	return s
}

// Append adds a layer under the next index.
func (s *Sequential) Append(m Module) {
	AddChild(&s.Base, strconv.Itoa(len(s.Layers)), m)
	s.Layers = append(s.Layers, m)
}

func (s *Sequential) Forward(x *ag.Var) *ag.Var {
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return s.Out(x)
}

// ShapeError is the panic value of a module given an input of the wrong
// shape; Recover turns it into an ordinary error.
type ShapeError struct {
	Module string
	Msg    string
}

func (e ShapeError) Error() string {
	name := e.Module
	if name == "" {
		name = "model"
	}
	return fmt.Sprintf("nn: %s %s", name, e.Msg)
}

// Recover runs fn and turns a ShapeError panic into an error, so callers
// facing user-supplied inputs or weights get a message instead of a crash.
func Recover(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if se, ok := r.(ShapeError); ok {
				err = se
				return
			}
			panic(r)
		}
	}()
	fn()
	return nil
}
