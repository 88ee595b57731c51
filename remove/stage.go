package remove

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/fit"
	"ebyd/nn"
	"ebyd/optim"
	"ebyd/tensor"
)

// ErrDiverged marks a loss or parameter that stopped being a number, so
// that a guarded stage (or the caller of an Unlearner) can retry with a
// smaller step.
var ErrDiverged = errors.New("diverged")

// stage is a training stage of a method: epochs of minibatch gradient
// steps over the defense images (shuffled from the seed, with the
// dataset's usual training augmentation), a Row after each epoch.
type stage struct {
	name      string
	optimizer string  // "sgd" (default) or "adam"
	lr        float64 // constant over the stage
	momentum  float64 // sgd
	wd        float64 // coupled L2 weight decay, as torch.optim's weight_decay
	nesterov  bool
	epochs    int
	batch     int
	// train runs the updates in training mode (BatchNorm batch statistics,
	// dropout); otherwise the network stays in evaluation mode.
	train bool
	// clip, when positive, scales the gradients to at most this joint L2
	// norm after the backward pass and before the step (the seed calls
	// clip_grad_norm_ before backward, where it does nothing).
	clip float64
	// params are the tensors updated (nil: every parameter of the model).
	params []*ag.Var
	// objective computes the loss to minimise on a batch and the value to
	// report (nil: the cross-entropy of m).
	objective func(x *tensor.Tensor, y []int) (loss *ag.Var, report float32)
	// after, when set, runs after every step (to clamp masks).
	after func()
	// seed varies the batch order between stages of one method.
	seed uint64
}

// ce is the default objective.
func ce(m nn.Module) func(x *tensor.Tensor, y []int) (*ag.Var, float32) {
	return func(x *tensor.Tensor, y []int) (*ag.Var, float32) {
		l := ag.CrossEntropy(m.Forward(ag.Const(x)), y)
		return l, l.Item()
	}
}

// steps is the number of steps the stage takes on n images.
func (f *stage) steps(n int) int { return epochSteps(f.epochs, f.batch, n) }

// epochSteps is the number of steps of epochs passes over n images in
// batches of batch.
func epochSteps(epochs, batch, n int) int { return epochs * ((n + batch - 1) / batch) }

// run trains m on ds, appending a row per epoch to rep and ticking tk.
func (f *stage) run(ctx context.Context, m nn.Module, ds *data.Dataset, env Env, rep *Report, tk *ticker) error {
	ps := f.params
	if ps == nil {
		ps = fit.Params(m)
	}
	opt, err := optim.New(ps, optim.Config{Name: cmp.Or(f.optimizer, "sgd"), LR: f.lr, Momentum: f.momentum, WeightDecay: f.wd, Nesterov: f.nesterov})
	if err != nil {
		return fmt.Errorf("%s: %w", f.name, err)
	}
	objective := f.objective
	if objective == nil {
		objective = ce(m)
	}
	ld := &data.Loader{Data: ds, BatchSize: f.batch, Shuffle: true, Seed: env.Seed ^ f.seed, Reuse: true, Augment: data.DefaultAugment(ds.Name)}
	defer nn.SetTraining(m, false)
	var sum float64 // the epoch's loss so far, over n steps
	var n int
	loop := fit.Loop[*tensor.Tensor]{
		Epochs: f.epochs, Batches: ld.Epoch, Params: ps, Opt: opt, Clip: f.clip, Loss: objective,
		Before: func(_, step int, _ *tensor.Tensor, _ []int) {
			if step == 0 {
				nn.SetTraining(m, f.train)
				sum, n = 0, 0
			}
		},
		After: func(epoch, _ int, v float32) {
			if f.after != nil {
				f.after()
			}
			sum += float64(v)
			n++
			tk.tick(fmt.Sprintf("%s %d/%d  loss %.4f", f.name, epoch+1, f.epochs, sum/float64(n)))
		},
		EndEpoch: func(epoch int) (bool, error) {
			nn.SetTraining(m, false)
			if err := checkFinite(m, f.name); err != nil {
				return false, fmt.Errorf("%w (%w)", err, ErrDiverged)
			}
			acc, err := fit.Accuracy(m, ds, fit.EvalBatch)
			if err != nil {
				return false, err
			}
			rep.Rows = append(rep.Rows, Row{Stage: f.name, Epoch: epoch + 1, DefenseAcc: acc, Loss: sum / float64(n)})
			return false, nil
		},
	}
	switch err := loop.Run(ctx).(type) {
	case *fit.Stopped:
		return fmt.Errorf("%s stopped at epoch %d: %w", f.name, err.Epoch, err.Cause)
	case *fit.NonFinite:
		return fmt.Errorf("%s %w: the loss is %v at epoch %d, step %d (lr %g)", f.name, ErrDiverged, err.Loss, err.Epoch, err.Step, f.lr)
	default:
		return err
	}
}

// ticker counts a method's steps across its stages for Env.Progress.
type ticker struct {
	env         Env
	done, total int
}

func (t *ticker) tick(status string) {
	t.done++
	t.total = max(t.total, t.done)
	t.env.progress(t.done, t.total, status)
}

// Recipe is the fine-tuning recipe the methods share (ft, and the
// fine-tuning after fp's and the mask methods' pruning): SGD with
// momentum and coupled weight decay at a constant rate, in training mode,
// with the gradient norm clipped. Its fields are JSON parameters.
type Recipe struct {
	LR          float64 `json:"lr"`
	Momentum    float64 `json:"momentum"`
	WeightDecay float64 `json:"weight_decay"`
	Epochs      int     `json:"epochs"`
	BatchSize   int     `json:"batch_size"`
	// MaxGradNorm clips the gradients' joint L2 norm (0: no clipping).
	MaxGradNorm float64 `json:"max_grad_norm"`
}

// defaultRecipe is fine-tuning as the RNP and NAD code bases do it on their
// clean subsets: SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 128.
func defaultRecipe(epochs int) Recipe {
	return Recipe{LR: 0.01, Momentum: 0.9, WeightDecay: 5e-4, Epochs: epochs, BatchSize: 128, MaxGradNorm: 20}
}

// check validates the recipe; zero epochs is allowed (no fine-tuning)
// when optional is set.
func (r Recipe) check(optional bool) error {
	switch {
	case !(r.LR > 0) || math.IsInf(r.LR, 0):
		return fmt.Errorf("lr %g: must be a positive number", r.LR)
	case r.Momentum < 0 || r.Momentum >= 1:
		return fmt.Errorf("momentum %g: must be in [0, 1)", r.Momentum)
	case r.WeightDecay < 0:
		return fmt.Errorf("weight_decay %g: must not be negative", r.WeightDecay)
	case r.Epochs < 0 || (r.Epochs == 0 && !optional):
		return fmt.Errorf("epochs %d: must be at least 1", r.Epochs)
	case r.BatchSize < 1:
		return fmt.Errorf("batch_size %d: must be at least 1", r.BatchSize)
	case r.MaxGradNorm < 0:
		return fmt.Errorf("max_grad_norm %g: must not be negative", r.MaxGradNorm)
	}
	return nil
}

// stage is the recipe as a stage named name.
func (r Recipe) stage(name string) *stage {
	return &stage{
		name: name, lr: r.LR, momentum: r.Momentum, wd: r.WeightDecay,
		epochs: r.Epochs, batch: r.BatchSize, train: true, clip: r.MaxGradNorm,
	}
}
