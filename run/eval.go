package run

import (
	ag "ebyd/autograd"
	"ebyd/fit"
	"ebyd/nn"
	"ebyd/tensor"
)

// DefaultEvalBatch is the evaluation batch size configs and flags start
// from.
const DefaultEvalBatch = fit.EvalBatch

// Logits runs m on a batch in evaluation mode without a graph.
func Logits(m nn.Module, x *tensor.Tensor) (*tensor.Tensor, error) {
	if t, ok := m.(interface{ Training() bool }); ok && t.Training() {
		nn.SetTraining(m, false)
		defer nn.SetTraining(m, true)
	}
	var out *tensor.Tensor
	var err error
	ag.NoGrad(func() {
		err = nn.Recover(func() { out = m.Forward(ag.Const(x)).Value })
	})
	return out, err
}
