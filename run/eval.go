package run

import (
	"fmt"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/metrics"
	"ebyd/nn"
	"ebyd/tensor"
)

// DefaultEvalBatch is the evaluation batch size: large enough for the
// engine to split each batch over every core, small enough to keep memory
// low for the bigger networks.
const DefaultEvalBatch = 500

// Predict returns m's predicted class for every image of ds, in order,
// computed in evaluation mode without recording a graph. m's training mode
// is restored afterwards. A model that does not fit the images' shape gives
// an error, not a panic.
func Predict(m nn.Module, ds *data.Dataset, batch int) ([]int, error) {
	if batch <= 0 {
		batch = DefaultEvalBatch
	}
	if t, ok := m.(interface{ Training() bool }); ok && t.Training() {
		nn.SetTraining(m, false)
		defer nn.SetTraining(m, true)
	}
	pred := make([]int, 0, ds.N)
	ld := &data.Loader{Data: ds, BatchSize: batch, Reuse: true}
	var err error
	ag.NoGrad(func() {
		err = nn.Recover(func() {
			for x, _ := range ld.Epoch(0) {
				out := m.Forward(ag.Const(x)).Value
				if out.Dim() != 2 || out.Shape[0] != x.Shape[0] {
					panic(nn.ShapeError{Msg: fmt.Sprintf("returns %v for a batch of %d images", out.Shape, x.Shape[0])})
				}
				pred = append(pred, out.ArgMaxRows()...)
			}
		})
	})
	if err != nil {
		return nil, err
	}
	return pred, nil
}

// Accuracy is m's top-1 accuracy on ds (clean accuracy on a clean test set).
func Accuracy(m nn.Module, ds *data.Dataset, batch int) (float64, error) {
	pred, err := Predict(m, ds, batch)
	if err != nil {
		return 0, err
	}
	return metrics.Accuracy(pred, ds.Labels), nil
}

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
