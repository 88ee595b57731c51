package optim

import (
	"math"
	"strings"
	"testing"

	ag "ebyd/autograd"
	"ebyd/tensor"
)

func param(vals ...float32) *ag.Var { return ag.Param(tensor.FromData(vals, len(vals))) }

func setGrad(p *ag.Var, g ...float32) { p.Grad = tensor.FromData(g, len(g)) }

func near(t *testing.T, got, want float32) {
	t.Helper()
	if math.Abs(float64(got-want)) > 1e-6 {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestSGDMomentumNesterovDecay(t *testing.T) {
	// Two steps by hand, torch.optim.SGD rules: d = g + wd·w; buf = d (first),
	// then buf = μ·buf + d; nesterov step uses d + μ·buf.
	p := param(1)
	o := &SGD{Params: []*ag.Var{p}, Rate: 0.1, Momentum: 0.9, WeightDecay: 0.5, Nesterov: true}
	setGrad(p, 2)
	o.Step() // d=2.5, buf=2.5, step=2.5+2.25=4.75, w=1-0.475=0.525
	near(t, p.Value.Data[0], 0.525)
	setGrad(p, 2)
	o.Step() // d=2.2625, buf=2.25+2.2625=4.5125, step=2.2625+4.06125=6.32375
	near(t, p.Value.Data[0], 0.525-0.632375)
}

func TestSGDSkipsNilGrad(t *testing.T) {
	p := param(3)
	(&SGD{Params: []*ag.Var{p}, Rate: 1, Momentum: 0.9}).Step()
	near(t, p.Value.Data[0], 3)
}

func TestAdamFirstStepIsSignTimesRate(t *testing.T) {
	p := param(1, -1)
	o := &Adam{Params: []*ag.Var{p}, Rate: 0.01}
	setGrad(p, 0.3, -4)
	o.Step()
	near(t, p.Value.Data[0], 0.99)
	near(t, p.Value.Data[1], -0.99)
}

func TestAdamWDecouplesDecay(t *testing.T) {
	p, q := param(2), param(2)
	(&Adam{Params: []*ag.Var{p}, Rate: 0.1, WeightDecay: 0.5, Decoupled: true}).Step() // no grad: no change
	near(t, p.Value.Data[0], 2)
	setGrad(p, 1)
	setGrad(q, 1)
	(&Adam{Params: []*ag.Var{p}, Rate: 0.1, WeightDecay: 0.5, Decoupled: true}).Step()
	(&Adam{Params: []*ag.Var{q}, Rate: 0.1, WeightDecay: 0.5}).Step()
	near(t, p.Value.Data[0], 2*(1-0.05)-0.1) // shrink, then a unit-size step
	near(t, q.Value.Data[0], 2-0.1)          // L2 term only changes the gradient's size
}

func TestClipGradNormClips(t *testing.T) {
	p, q := param(0, 0), param(0)
	setGrad(p, 3, 0)
	setGrad(q, 4)
	n := ClipGradNorm([]*ag.Var{p, q}, 1)
	if math.Abs(n-5) > 1e-9 {
		t.Fatalf("norm %v", n)
	}
	near(t, p.Grad.Data[0], 0.6)
	near(t, q.Grad.Data[0], 0.8)
	setGrad(p, 0.1, 0)
	ClipGradNorm([]*ag.Var{p}, 1)
	near(t, p.Grad.Data[0], 0.1) // below the bound: untouched
}

func TestSchedules(t *testing.T) {
	ms := MultiStep{Milestones: []int{2, 4}, Gamma: 0.1}
	for e, want := range []float32{1, 1, 0.1, 0.1, 0.01} {
		near(t, ms.Rate(1, e), want)
	}
	c := Cosine{TMax: 4}
	near(t, c.Rate(1, 0), 1)
	near(t, c.Rate(1, 2), 0.5)
	near(t, c.Rate(1, 4), 0)
}

func TestNew(t *testing.T) {
	p := []*ag.Var{ag.Param(tensor.Full(1, 2))}
	o, err := New(p, Config{Name: "sgd", LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true})
	if s, ok := o.(*SGD); err != nil || !ok || s.Rate != 0.1 || s.Momentum != 0.9 || s.WeightDecay != 5e-4 || !s.Nesterov {
		t.Errorf("sgd: %+v, %v", o, err)
	}
	if a, err := New(p, Config{Name: "adam", LR: 1e-3}); err != nil || a.LR() != 1e-3 {
		t.Errorf("adam: %+v, %v", a, err)
	}
	if _, err := New(p, Config{Name: "adagrad"}); err == nil || !strings.Contains(err.Error(), `unknown optimizer "adagrad"`) {
		t.Errorf("unknown optimizer: %v", err)
	}
}
