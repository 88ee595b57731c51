package remove

import (
	"context"
	"fmt"
	"slices"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/nn"
	"ebyd/tensor"
)

// NAD is Neural Attention Distillation (Li et al., 2021; the seed's
// defenses/NAD.py): a teacher is the suspect model fine-tuned on the
// defense images (Teacher); the student, the suspect model again, is then
// trained (Student) on CE + Σ_ℓ Beta·MSE(A_s^ℓ, A_t^ℓ), where the attention
// map of a layer's output a [N, C, H, W] is A = mean_c(a²) flattened and
// divided by its L2 norm (NAD's at() with p = 2). Both recipes are SGD lr
// 0.01, momentum 0.9, weight decay 1e-4, batch 128, 10 epochs; Beta is
// NAD's 5000 at every layer.
//
// Layers default to the outputs of layer2, layer3 and layer4 (NAD's choice
// on ResNets) when the model has them, otherwise to its last (up to) three
// convolutions (mnistnet: conv1 and conv2, before their ReLU).
//
// Departure: NAD's optimisers use Nesterov momentum; these use plain
// momentum, and clip the gradient norm to 20 (Recipe).
type NAD struct {
	Teacher Recipe   `json:"teacher"`
	Student Recipe   `json:"student"`
	Beta    float64  `json:"beta"`
	Layers  []string `json:"layers"`
}

func init() {
	register("nad", func() Remover {
		r := defaultRecipe(10)
		r.WeightDecay = 1e-4
		return &NAD{Teacher: r, Student: r, Beta: 5000}
	})
}

func (c *NAD) check() error {
	if err := c.Teacher.check(false); err != nil {
		return fmt.Errorf("teacher: %w", err)
	}
	if err := c.Student.check(false); err != nil {
		return fmt.Errorf("student: %w", err)
	}
	if !(c.Beta >= 0) {
		return fmt.Errorf("beta %g: must not be negative", c.Beta)
	}
	return nil
}

// attentionLayers are the layers NAD distils by default on m.
func attentionLayers(m nn.Module) []string {
	paths := nn.ModulePaths(m)
	if stages := []string{"layer2", "layer3", "layer4"}; !slices.ContainsFunc(stages, func(s string) bool { return !slices.Contains(paths, s) }) {
		return stages
	}
	var convs []string
	nn.Walk(m, func(path string, sub nn.Module) {
		if _, ok := sub.(*nn.Conv2d); ok {
			convs = append(convs, path)
		}
	})
	return convs[max(0, len(convs)-3):]
}

// attention is NAD's at(a) with p = 2: mean over channels of a², per image
// flattened and scaled to unit L2 norm.
func attention(a *ag.Var) *ag.Var {
	s := a.Value.Shape
	if len(s) != 4 {
		panic(nn.ShapeError{Msg: fmt.Sprintf("gives a %v output: attention needs [N, C, H, W]", s)})
	}
	at := ag.Reshape(ag.MeanDims(ag.Square(a), []int{1}, false), s[0], s[2]*s[3])
	norm := ag.Sqrt(ag.AddScalar(ag.SumDims(ag.Square(at), []int{1}, true), 1e-12))
	return ag.Div(at, norm)
}

func (c *NAD) Remove(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Report, error) {
	rep, ds, err := begin("nad", m, d)
	if err != nil {
		return nil, err
	}
	layers := c.Layers
	if len(layers) == 0 {
		layers = attentionLayers(m)
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("nad: the network has no convolution to take attention maps from; give layers")
	}
	teach, learn := c.Teacher.stage("teacher"), c.Student.stage("student")
	learn.seed = 0x737475 // "stu"
	tk := &ticker{env: env, total: teach.steps(ds.N) + learn.steps(ds.N)}
	suspect := take(m)
	if err := teach.run(ctx, m, ds, env, rep, tk); err != nil {
		return nil, err
	}
	teacher := take(m)
	if err := suspect.restore(m); err != nil {
		return nil, err
	}
	outs := map[string]*ag.Var{}
	for _, l := range layers {
		if err := nn.SetHook(m, l, func(y *ag.Var) *ag.Var { outs[l] = y; return y }); err != nil {
			return nil, fmt.Errorf("nad: layers: %w", err)
		}
	}
	defer func() {
		for _, l := range layers {
			nn.SetHook(m, l, nil)
		}
	}()
	learn.objective = func(x *tensor.Tensor, y []int) (*ag.Var, float32) {
		// The teacher's maps: its weights pass through m in evaluation
		// mode, without a graph.
		teacher.swap(m)
		nn.SetTraining(m, false)
		target := map[string]*ag.Var{}
		ag.NoGrad(func() {
			m.Forward(ag.Const(x))
			for _, l := range layers {
				target[l] = ag.Const(attention(outs[l]).Value)
			}
		})
		teacher.swap(m)
		nn.SetTraining(m, true)
		loss := ag.CrossEntropy(m.Forward(ag.Const(x)), y)
		for _, l := range layers {
			loss = ag.Add(loss, ag.Scale(ag.MSE(attention(outs[l]), target[l]), float32(c.Beta)))
		}
		return loss, loss.Item()
	}
	if err := learn.run(ctx, m, ds, env, rep, tk); err != nil {
		return nil, err
	}
	return rep.end(m, ds)
}
