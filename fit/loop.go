package fit

import (
	"context"
	"fmt"
	"iter"
	"math"

	ag "ebyd/autograd"
	"ebyd/nn"
	"ebyd/optim"
)

// Loop is minibatch gradient descent over batches of type B with labels.
// Each step checks the context, runs Before, sets the rate, zeroes the
// gradients of Params, computes the loss, and, when the loss is a number,
// backpropagates, clips and steps Opt; then it runs After. Epochs and
// steps are counted from 0.
type Loop[B any] struct {
	Epochs int
	// Start is the first epoch to run (a run resumed from a checkpoint of
	// the model and optimizer after Start epochs); 0 runs them all.
	Start   int
	Batches func(epoch int) iter.Seq2[B, []int]
	// Params are the tensors whose gradients are zeroed before each step
	// and clipped after the backward pass.
	Params []*ag.Var
	Opt    optim.Optimizer
	// Rate, when set, is the learning rate of a step; otherwise the
	// optimizer keeps its own.
	Rate func(epoch, step int) float32
	// Clip, when positive, scales the gradients of Params to at most this
	// joint L2 norm before the optimizer steps.
	Clip float64
	// Loss is a batch's loss to minimise and the value to report (often
	// the same number). It runs inside the step's arena: nothing of its
	// graph outlives the step.
	Loss func(b B, y []int) (loss *ag.Var, report float32)
	// Before, when set, runs before each step (to edit the batch or make
	// its labels).
	Before func(epoch, step int, b B, y []int)
	// After, when set, runs after each step with the reported loss.
	After func(epoch, step int, report float32)
	// EndEpoch, when set, runs after each epoch; stop ends training early
	// and an error ends it with that error.
	EndEpoch func(epoch int) (stop bool, err error)
}

// Stopped reports training cut short by its context.
type Stopped struct {
	Epoch, Step int // 1-based: the step that did not run
	Cause       error
}

func (e *Stopped) Error() string {
	return fmt.Sprintf("stopped at epoch %d, step %d: %v", e.Epoch, e.Step, e.Cause)
}

func (e *Stopped) Unwrap() error { return e.Cause }

// NonFinite reports a loss that stopped being a number: the step was not
// taken.
type NonFinite struct {
	Epoch, Step int // 1-based
	Loss        float32
}

func (e *NonFinite) Error() string {
	return fmt.Sprintf("the loss is %v at epoch %d, step %d", e.Loss, e.Epoch, e.Step)
}

// Run trains. It returns a *Stopped when ctx is done between two steps, a
// *NonFinite for a loss that is NaN or infinite, the nn.ShapeError of a
// model that does not fit its batches, or the error of EndEpoch.
func (l *Loop[B]) Run(ctx context.Context) error {
	arena := ag.NewArena()
	for epoch := l.Start; epoch < l.Epochs; epoch++ {
		step := 0
		for b, y := range l.Batches(epoch) {
			if err := ctx.Err(); err != nil {
				return &Stopped{Epoch: epoch + 1, Step: step + 1, Cause: context.Cause(ctx)}
			}
			if l.Before != nil {
				l.Before(epoch, step, b, y)
			}
			if l.Rate != nil {
				l.Opt.SetLR(l.Rate(epoch, step))
			}
			v, err := l.step(arena, b, y)
			if err != nil {
				return err
			}
			if !Finite(v) {
				return &NonFinite{Epoch: epoch + 1, Step: step + 1, Loss: v}
			}
			if l.After != nil {
				l.After(epoch, step, v)
			}
			step++
		}
		if l.EndEpoch != nil {
			if stop, err := l.EndEpoch(epoch); err != nil || stop {
				return err
			}
		}
	}
	return nil
}

// step takes one guarded step and returns the reported loss.
func (l *Loop[B]) step(arena *ag.Arena, b B, y []int) (report float32, err error) {
	optim.ZeroGrad(l.Params)
	err = nn.Recover(func() {
		arena.Step(func() {
			var loss *ag.Var
			if loss, report = l.Loss(b, y); !Finite(report) {
				return
			}
			ag.Backward(loss)
			if l.Clip > 0 {
				optim.ClipGradNorm(l.Params, l.Clip)
			}
			l.Opt.Step()
		})
	})
	return report, err
}

// Finite reports whether v is neither NaN nor infinite.
func Finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// Params lists the trainable tensors of m.
func Params(m nn.Module) []*ag.Var {
	var out []*ag.Var
	for _, p := range nn.Params(m) {
		out = append(out, p.Var)
	}
	return out
}

// NonFiniteParam is the name of the first parameter of m holding NaN or an
// infinity ("" for none): a last step can push weights there without a
// loss showing it.
func NonFiniteParam(m nn.Module) string {
	for _, p := range nn.Params(m) {
		if p.Value.HasNaN() {
			return p.Name
		}
	}
	return ""
}
