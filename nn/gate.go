package nn

import (
	"fmt"

	ag "ebyd/autograd"
	"ebyd/tensor"
)

// GateSite says which kind of layer a Gate edits.
type GateSite string

// The layers a Gate can sit on.
const (
	// GateBatchNorm gates a BatchNorm2d's channels through its Mask,
	// WeightNoise and BiasNoise fields.
	GateBatchNorm GateSite = "batchnorm"
	// GateConv gates a Conv2d's output channels through a hook.
	GateConv GateSite = "conv"
	// GateLinear gates a Linear's output units through a hook.
	GateLinear GateSite = "linear"
)

// A Gate is a per-channel edit of one layer, the handle that neuron-level
// defenses (RNP's masks, ANP's and AWP's neuron perturbations, activation
// pruning) work through. Channel c of the layer computes
//
//	out_c = Mask_c·(1 + WeightNoise_c)·(weight part)_c + (1 + BiasNoise_c)·bias_c
//
// where for a BatchNorm the weight part is γ_c·x̂_c and the bias β_c (exactly
// BatchNorm2d's Mask/WeightNoise/BiasNoise), and for a convolution or dense
// layer the weight part is W_c·x and the bias b_c. So a channel with Mask 0
// outputs its bias alone, as RNP's pruning (γ_c = 0, β_c kept) does on a
// BatchNorm. The noise only applies while the set's perturbation is on
// (Gates.Perturb). Mask and the noises are [C] Vars that gradients reach.
type Gate struct {
	Path     string
	Site     GateSite
	Channels int
	Mask     *ag.Var
	// WeightNoise and BiasNoise start at zero.
	WeightNoise, BiasNoise *ag.Var

	layer Module
	set   *Gates
	watch func(out *ag.Var)
}

// Gates is a set of Gates on one network. Make it with NewGates or
// ChannelGates; Fold or Remove it when done.
type Gates struct {
	List    []*Gate
	root    Module
	perturb bool
	done    bool
}

// ChannelGates gates the network's hidden channels: every BatchNorm2d when
// the network has any (as RNP and ANP do), and otherwise, for networks
// without BatchNorm (mnistnet), every convolution's output channels and every
// dense layer's output units except those of the last dense layer, whose
// outputs are the logits.
func ChannelGates(root Module) (*Gates, error) {
	var bns, convs, linears []string
	Walk(root, func(path string, m Module) {
		switch m.(type) {
		case *BatchNorm2d:
			bns = append(bns, path)
		case *Conv2d:
			convs = append(convs, path)
		case *Linear:
			linears = append(linears, path)
		}
	})
	if len(bns) > 0 {
		return NewGates(root, bns...)
	}
	if len(linears) > 0 {
		linears = linears[:len(linears)-1]
	}
	paths := append(convs, linears...)
	if len(paths) == 0 {
		return nil, fmt.Errorf("nn: the network has no BatchNorm, convolution or hidden dense layer to gate")
	}
	return NewGates(root, paths...)
}

// LastLinear is the path of the network's last dense layer in definition
// order: the classifier of every model in the zoo.
func LastLinear(root Module) (string, error) {
	last := ""
	Walk(root, func(path string, m Module) {
		if _, ok := m.(*Linear); ok {
			last = path
		}
	})
	if last == "" {
		return "", fmt.Errorf("nn: the network has no dense layer")
	}
	return last, nil
}

// NewGates puts a Gate, with Mask 1 and no noise, on each layer at paths
// (BatchNorm2d, Conv2d or Linear). The network computes exactly what it did
// until a gate changes. A layer can carry one gate set at a time.
func NewGates(root Module, paths ...string) (*Gates, error) {
	if root.base().hooks == nil {
		return nil, fmt.Errorf("nn: gates on a tree that was not built with nn.Build")
	}
	g := &Gates{root: root}
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			return nil, fmt.Errorf("nn: layer %q listed twice for gates", p)
		}
		seen[p] = true
		m, err := Find(root, p)
		if err != nil {
			return nil, err
		}
		gt := &Gate{Path: p, layer: m, set: g}
		switch l := m.(type) {
		case *BatchNorm2d:
			if l.Mask != nil || l.WeightNoise != nil || l.BiasNoise != nil {
				return nil, fmt.Errorf("nn: BatchNorm %q already carries a mask or noise", p)
			}
			gt.Site, gt.Channels = GateBatchNorm, l.Channels()
		case *Conv2d:
			gt.Site, gt.Channels = GateConv, l.Weight.Value.Shape[0]
		case *Linear:
			gt.Site, gt.Channels = GateLinear, l.Weight.Value.Shape[0]
		default:
			return nil, fmt.Errorf("nn: cannot gate %q, a %T (want a BatchNorm2d, Conv2d or Linear)", p, m)
		}
		if m.base().hooks[p] != nil {
			return nil, fmt.Errorf("nn: layer %q already has a hook", p)
		}
		gt.Mask = ag.Param(tensor.Full(1, gt.Channels))
		gt.WeightNoise = ag.Param(tensor.New(gt.Channels))
		gt.BiasNoise = ag.Param(tensor.New(gt.Channels))
		g.List = append(g.List, gt)
	}
	if len(g.List) == 0 {
		return nil, fmt.Errorf("nn: no layers to gate")
	}
	for _, gt := range g.List {
		gt.attach()
	}
	return g, nil
}

// attach makes the layer compute through the gate.
func (gt *Gate) attach() {
	switch l := gt.layer.(type) {
	case *BatchNorm2d:
		l.Mask = gt.Mask
		if gt.set.perturb {
			l.WeightNoise, l.BiasNoise = gt.WeightNoise, gt.BiasNoise
		} else {
			l.WeightNoise, l.BiasNoise = nil, nil
		}
		if gt.watch != nil {
			gt.layer.base().hooks[gt.Path] = func(y *ag.Var) *ag.Var { gt.watch(y); return y }
		} else {
			delete(gt.layer.base().hooks, gt.Path)
		}
	case *Conv2d:
		gt.layer.base().hooks[gt.Path] = func(y *ag.Var) *ag.Var { return gt.observe(gt.apply(y, l.Bias, 4)) }
	case *Linear:
		gt.layer.base().hooks[gt.Path] = func(y *ag.Var) *ag.Var { return gt.observe(gt.apply(y, l.Bias, 2)) }
	}
}

func (gt *Gate) observe(y *ag.Var) *ag.Var {
	if gt.watch != nil {
		gt.watch(y)
	}
	return y
}

// Watch calls fn with the gated output of every gate's layer on each
// forward pass (to measure activations, as activation pruning does); nil
// stops watching.
func (g *Gates) Watch(fn func(gt *Gate, out *ag.Var)) {
	for _, gt := range g.List {
		gt.watch = nil
		if fn != nil {
			gt.watch = func(out *ag.Var) { fn(gt, out) }
		}
		if !g.done {
			gt.attach()
		}
	}
}

// apply gates y, a conv output [N, C, H, W] (rank 4) or a dense output
// [N, C] (rank 2), whose bias is bias (nil for none).
func (gt *Gate) apply(y, bias *ag.Var, rank int) *ag.Var {
	shape := []int{gt.Channels}
	if rank == 4 {
		shape = []int{gt.Channels, 1, 1}
	}
	scale := gt.Mask
	if gt.set.perturb {
		scale = ag.Mul(scale, ag.AddScalar(gt.WeightNoise, 1))
	}
	scale = ag.Reshape(scale, shape...)
	if bias == nil {
		return ag.Mul(y, scale)
	}
	b := ag.Reshape(bias, shape...)
	nb := b
	if gt.set.perturb {
		nb = ag.Mul(b, ag.Reshape(ag.AddScalar(gt.BiasNoise, 1), shape...))
	}
	// (y − b)·scale + b·(1+ξ): the gradient reaching the bias is (1+ξ), as
	// if the bias had been scaled in place.
	return ag.Add(ag.Mul(ag.Sub(y, b), scale), nb)
}

// Perturb switches the noise on or off for every gate of the set (ANP's
// "perturbed" and "clean" forward passes); the masks always apply.
func (g *Gates) Perturb(on bool) {
	g.perturb = on
	if !g.done {
		for _, gt := range g.List {
			gt.attach()
		}
	}
}

// Perturbed reports whether the noise applies.
func (g *Gates) Perturbed() bool { return g.perturb }

// Masks lists every gate's Mask.
func (g *Gates) Masks() []*ag.Var {
	out := make([]*ag.Var, len(g.List))
	for i, gt := range g.List {
		out[i] = gt.Mask
	}
	return out
}

// Noises lists every gate's WeightNoise and BiasNoise.
func (g *Gates) Noises() []*ag.Var {
	out := make([]*ag.Var, 0, 2*len(g.List))
	for _, gt := range g.List {
		out = append(out, gt.WeightNoise, gt.BiasNoise)
	}
	return out
}

// Channels is the total number of gated channels.
func (g *Gates) Channels() int {
	n := 0
	for _, gt := range g.List {
		n += gt.Channels
	}
	return n
}

// Fold writes the gates into the layers' own weights (the effective weight
// and bias of the Gate formula, with the noise when the perturbation is on)
// and removes them, so that the network computes the same function as a
// plain network that saves and loads like any other.
func (g *Gates) Fold() {
	if g.done {
		return
	}
	for _, gt := range g.List {
		m := gt.Mask.Value.Data
		scale := make([]float32, gt.Channels)
		bscale := make([]float32, gt.Channels)
		for c := range scale {
			scale[c], bscale[c] = m[c], 1
			if g.perturb {
				scale[c] *= 1 + gt.WeightNoise.Value.Data[c]
				bscale[c] = 1 + gt.BiasNoise.Value.Data[c]
			}
		}
		var w, b *ag.Var
		switch l := gt.layer.(type) {
		case *BatchNorm2d:
			w, b = l.Weight, l.Bias
		case *Conv2d:
			w, b = l.Weight, l.Bias
		case *Linear:
			w, b = l.Weight, l.Bias
		}
		per := w.Value.Len() / gt.Channels // weights are [C, ...]: channel-major
		for c := range gt.Channels {
			row := w.Value.Data[c*per : (c+1)*per]
			for i := range row {
				row[i] *= scale[c]
			}
			if b != nil {
				b.Value.Data[c] *= bscale[c]
			}
		}
	}
	g.Remove()
}

// Remove takes the gates off without changing any weight.
func (g *Gates) Remove() {
	if g.done {
		return
	}
	g.done = true
	for _, gt := range g.List {
		switch l := gt.layer.(type) {
		case *BatchNorm2d:
			l.Mask, l.WeightNoise, l.BiasNoise = nil, nil, nil
		}
		delete(gt.layer.base().hooks, gt.Path)
	}
}
