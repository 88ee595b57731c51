package optim

import (
	"fmt"
	"math"

	ag "ebyd/autograd"
	"ebyd/internal/vec"
	"ebyd/tensor"
)

// Optimizer updates parameters from their accumulated gradients.
type Optimizer interface {
	Step()
	LR() float32
	SetLR(lr float32)
}

// Config names an optimizer and its settings, as training recipes state
// them: sgd or adam, both with coupled L2 weight decay (torch.optim's
// weight_decay); Momentum and Nesterov apply to sgd.
type Config struct {
	Name        string
	LR          float64
	Momentum    float64
	WeightDecay float64
	Nesterov    bool
}

// Names lists the optimizers New makes.
var Names = []string{"adam", "sgd"}

// New makes the optimizer c names over params.
func New(params []*ag.Var, c Config) (Optimizer, error) {
	switch c.Name {
	case "sgd":
		return &SGD{Params: params, Rate: float32(c.LR), Momentum: float32(c.Momentum), WeightDecay: float32(c.WeightDecay), Nesterov: c.Nesterov}, nil
	case "adam":
		return &Adam{Params: params, Rate: float32(c.LR), WeightDecay: float32(c.WeightDecay)}, nil
	}
	return nil, fmt.Errorf("unknown optimizer %q (adam or sgd)", c.Name)
}

// ZeroGrad drops the gradients of params before the next backward pass.
func ZeroGrad(params []*ag.Var) {
	for _, p := range params {
		p.ZeroGrad()
	}
}

// SGD is torch.optim.SGD (dampening 0).
type SGD struct {
	Params      []*ag.Var
	Rate        float32
	Momentum    float32
	WeightDecay float32
	Nesterov    bool
	buf         map[*ag.Var][]float32
}

func (o *SGD) LR() float32      { return o.Rate }
func (o *SGD) SetLR(lr float32) { o.Rate = lr }

func (o *SGD) Step() {
	if o.buf == nil {
		o.buf = map[*ag.Var][]float32{}
	}
	for _, p := range o.Params {
		if p.Grad == nil {
			continue
		}
		w, g := p.Value.Data, p.Grad.Data
		buf, started := o.buf[p]
		if o.Momentum != 0 && !started {
			buf = make([]float32, len(w))
			o.buf[p] = buf
		}
		// Elements update independently: splitting them over the cores
		// changes no result.
		tensor.ParallelElems(len(w), func(lo, hi int) {
			var b []float32
			if buf != nil {
				b = buf[lo:hi]
			}
			vec.SGD(w[lo:hi], g[lo:hi], b, o.Rate, o.Momentum, o.WeightDecay, o.Nesterov, started)
		})
	}
}

// Adam is torch.optim.Adam (L2 weight decay added to the gradient) or, with
// Decoupled, torch.optim.AdamW (weights shrunk by lr·decay before the step).
type Adam struct {
	Params       []*ag.Var
	Rate         float32
	Beta1, Beta2 float32 // 0 means PyTorch's 0.9 and 0.999
	Eps          float32 // 0 means 1e-8
	WeightDecay  float32
	Decoupled    bool
	state        map[*ag.Var]*adamState
}

type adamState struct {
	step int
	m, v []float32
}

func (o *Adam) LR() float32      { return o.Rate }
func (o *Adam) SetLR(lr float32) { o.Rate = lr }

func (o *Adam) Step() {
	b1, b2, eps := o.Beta1, o.Beta2, o.Eps
	if b1 == 0 {
		b1 = 0.9
	}
	if b2 == 0 {
		b2 = 0.999
	}
	if eps == 0 {
		eps = 1e-8
	}
	if o.state == nil {
		o.state = map[*ag.Var]*adamState{}
	}
	for _, p := range o.Params {
		if p.Grad == nil {
			continue
		}
		st := o.state[p]
		if st == nil {
			st = &adamState{m: make([]float32, p.Value.Len()), v: make([]float32, p.Value.Len())}
			o.state[p] = st
		}
		st.step++
		bc1 := 1 - math.Pow(float64(b1), float64(st.step))
		bc2 := 1 - math.Pow(float64(b2), float64(st.step))
		stepSize := float32(float64(o.Rate) / bc1)
		sq2 := float32(math.Sqrt(bc2))
		w, g := p.Value.Data, p.Grad.Data
		tensor.ParallelElems(len(w), func(lo, hi int) {
			vec.Adam(w[lo:hi], g[lo:hi], st.m[lo:hi], st.v[lo:hi], o.Rate, b1, b2, eps, o.WeightDecay, o.Decoupled, stepSize, sq2)
		})
	}
}

// ClipGradNorm scales the gradients of params so that their joint L2 norm is
// at most maxNorm, as torch.nn.utils.clip_grad_norm_, and returns the norm
// before clipping. Call it after Backward and before Step.
func ClipGradNorm(params []*ag.Var, maxNorm float64) float64 {
	var ss float64
	for _, p := range params {
		if p.Grad == nil {
			continue
		}
		for _, g := range p.Grad.Data {
			ss += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(ss)
	if coef := maxNorm / (norm + 1e-6); coef < 1 {
		for _, p := range params {
			if p.Grad == nil {
				continue
			}
			for i := range p.Grad.Data {
				p.Grad.Data[i] *= float32(coef)
			}
		}
	}
	return norm
}
