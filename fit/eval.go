package fit

import (
	"fmt"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/nn"
)

// EvalBatch is the number of images per forward pass when nothing is
// trained: large enough for the engine to split each batch over every
// core, small enough to keep memory low for the bigger networks.
const EvalBatch = 500

// Eval runs m over ds in order, batch images at a time (EvalBatch when
// batch is not positive), in evaluation mode without recording a graph,
// and hands see each batch's logits with its labels. m's training mode is
// restored afterwards. A model whose logits are not [n, ds.Classes] gives
// an error, not a panic.
func Eval(m nn.Module, ds *data.Dataset, batch int, see func(logits *ag.Var, y []int)) error {
	if batch <= 0 {
		batch = EvalBatch
	}
	if t, ok := m.(interface{ Training() bool }); ok && t.Training() {
		nn.SetTraining(m, false)
		defer nn.SetTraining(m, true)
	}
	ld := &data.Loader{Data: ds, BatchSize: batch, Reuse: true}
	var err error
	ag.NoGrad(func() {
		err = nn.Recover(func() {
			for x, y := range ld.Epoch(0) {
				out := m.Forward(ag.Const(x))
				if s := out.Shape(); len(s) != 2 || s[0] != len(y) || (ds.Classes > 0 && s[1] != ds.Classes) {
					panic(nn.ShapeError{Msg: fmt.Sprintf("returns %v for a batch of %d images of %d classes", s, len(y), ds.Classes)})
				}
				see(out, y)
			}
		})
	})
	return err
}

// Predict is m's predicted class for every image of ds, in order, as Eval
// computes it.
func Predict(m nn.Module, ds *data.Dataset, batch int) ([]int, error) {
	pred := make([]int, 0, ds.N)
	err := Eval(m, ds, batch, func(logits *ag.Var, _ []int) {
		pred = append(pred, logits.Value.ArgMaxRows()...)
	})
	if err != nil {
		return nil, err
	}
	return pred, nil
}

// Accuracy is m's top-1 accuracy on ds (0 for no images).
func Accuracy(m nn.Module, ds *data.Dataset, batch int) (float64, error) {
	pred, err := Predict(m, ds, batch)
	if err != nil || len(pred) == 0 {
		return 0, err
	}
	right := 0
	for i, p := range pred {
		if p == ds.Labels[i] {
			right++
		}
	}
	return float64(right) / float64(len(pred)), nil
}
