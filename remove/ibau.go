package remove

import (
	"context"
	"fmt"
	"math"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/nn"
	"ebyd/optim"
	"ebyd/tensor"
)

// IBAU is Implicit Backdoor Adversarial Unlearning (Zeng et al., 2022), a
// minimax over a universal input perturbation δ (one image added to every
// input, in normalised units). Each of Rounds rounds:
//
//   - inner maximisation: from δ = 0, one pass over the defense images of
//     SGD (InnerLR, I-BAU's 10) on −CE(m(x+δ), y) + Regu·‖δ‖², then δ is
//     projected onto the L2 ball of radius NormBound (10), in evaluation
//     mode;
//   - outer minimisation: one pass of Adam (OuterLR, I-BAU's 1e-3) on
//     CE(m(x+δ), y) + CE(m(x), y) over every weight, in training mode.
//
// Departure: I-BAU's outer step follows the implicit hypergradient of the
// inner problem's fixed point (a K-step fixed-point solve); this is the
// alternating approximation (the inner solution treated as constant, as
// adversarial training does), and it adds the clean cross-entropy so that
// the few defense images keep the clean accuracy up.
type IBAU struct {
	Rounds    int     `json:"rounds"`
	InnerLR   float64 `json:"inner_lr"`
	Regu      float64 `json:"regu"`
	NormBound float64 `json:"norm_bound"`
	OuterLR   float64 `json:"outer_lr"`
	BatchSize int     `json:"batch_size"`
	// MaxGradNorm clips the outer gradients' joint L2 norm (0: no clip).
	MaxGradNorm float64 `json:"max_grad_norm"`
}

func init() {
	register("ibau", func() Remover {
		return &IBAU{Rounds: 5, InnerLR: 10, Regu: 0.001, NormBound: 10, OuterLR: 1e-3, BatchSize: 100, MaxGradNorm: 20}
	})
}

func (c *IBAU) check() error {
	switch {
	case c.Rounds < 1 || c.BatchSize < 1:
		return fmt.Errorf("rounds %d, batch_size %d: each must be at least 1", c.Rounds, c.BatchSize)
	case !(c.InnerLR > 0) || !(c.OuterLR > 0):
		return fmt.Errorf("inner_lr %g, outer_lr %g: must be positive", c.InnerLR, c.OuterLR)
	case !(c.Regu >= 0) || !(c.NormBound > 0) || !(c.MaxGradNorm >= 0):
		return fmt.Errorf("regu %g, norm_bound %g, max_grad_norm %g: must not be negative (norm_bound positive)", c.Regu, c.NormBound, c.MaxGradNorm)
	}
	return nil
}

func (c *IBAU) Remove(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Report, error) {
	rep, ds, err := begin("ibau", m, d)
	if err != nil {
		return nil, err
	}
	batches := epochSteps(1, c.BatchSize, ds.N)
	tk := &ticker{env: env, total: 2 * c.Rounds * batches}
	delta := ag.Param(tensor.New(1, ds.C, ds.H, ds.W))
	weights := nn.Params(m)
	arena := ag.NewArena()
	ld := &data.Loader{Data: ds, BatchSize: c.BatchSize, Shuffle: true, Seed: env.Seed ^ 0x69626175, Reuse: true} // "ibau"
	for round := range c.Rounds {
		delta.Value.Zero()
		inner := &optim.SGD{Params: []*ag.Var{delta}, Rate: float32(c.InnerLR)}
		nn.SetTraining(m, false)
		for x, y := range ld.Epoch(round) {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("ibau stopped in round %d: %w", round+1, context.Cause(ctx))
			}
			delta.ZeroGrad()
			for _, p := range weights {
				p.ZeroGrad()
			}
			err := nn.Recover(func() {
				arena.Step(func() {
					l := ag.Neg(ag.CrossEntropy(m.Forward(ag.Add(ag.Const(x), delta)), y))
					if c.Regu > 0 {
						l = ag.Add(l, ag.Scale(ag.Sum(ag.Square(delta)), float32(c.Regu)))
					}
					ag.Backward(l)
				})
			})
			if err != nil {
				return nil, err
			}
			inner.Step()
			tk.tick(fmt.Sprintf("round %d/%d  perturbation", round+1, c.Rounds))
		}
		var ss float64
		for _, v := range delta.Value.Data {
			ss += float64(v) * float64(v)
		}
		if norm := math.Sqrt(ss); norm > c.NormBound {
			for i := range delta.Value.Data {
				delta.Value.Data[i] *= float32(c.NormBound / norm)
			}
		}
		if delta.Value.HasNaN() {
			return nil, fmt.Errorf("ibau %w: the perturbation is not a number in round %d; lower inner_lr", ErrDiverged, round+1)
		}
		pert := ag.Const(delta.Value.Clone())
		outer := &stage{
			name: "unlearn", optimizer: "adam", lr: c.OuterLR, epochs: 1, batch: c.BatchSize,
			train: true, clip: c.MaxGradNorm, seed: uint64(round + 1),
			objective: func(x *tensor.Tensor, y []int) (*ag.Var, float32) {
				in := ag.Const(x)
				l := ag.Add(ag.CrossEntropy(m.Forward(ag.Add(in, pert)), y), ag.CrossEntropy(m.Forward(in), y))
				return l, l.Item()
			},
		}
		n := len(rep.Rows)
		if err := outer.run(ctx, m, ds, env, rep, tk); err != nil {
			return nil, err
		}
		rep.Rows[n].Epoch = round + 1
	}
	return rep.end(m, ds)
}
