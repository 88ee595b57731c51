package run

import (
	"context"
	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/fit"
	"ebyd/metrics"
	"ebyd/nn"
	"ebyd/optim"
	"ebyd/tensor"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// MaxTrainSteps bounds a training run's steps (epochs × steps per epoch):
// at a millisecond a step it is eleven days, and it keeps every step count
// (progress, schedule) far from overflowing.
const MaxTrainSteps = 1_000_000_000

// maxStepTimes bounds the step times kept for median_step: a run of more
// steps reports the median of its last maxStepTimes steps (8 MiB of times).
const maxStepTimes = 1 << 20

// fitStats summarise the last epoch of a training run.
type fitStats struct {
	loss, acc  float64 // mean loss and accuracy over the last epoch's batches
	medianStep float64 // seconds
	resumed    int     // epochs done before, by the interrupted run whose checkpoint this one continued
}

// NaNError reports a training run whose loss stopped being a number.
type NaNError struct {
	Epoch, Step int // 1-based
	Loss        float32
	LR          float64
}

func (e *NaNError) Error() string {
	return fmt.Sprintf("training diverged: the loss is %v at epoch %d, step %d; try a lower learning rate (--lr, now %g)",
		e.Loss, e.Epoch, e.Step, e.LR)
}

// trainModel trains model on train with the config's optimizer, schedule
// and augmentation: every model the run stage trains goes through it.
func trainModel(ctx context.Context, model nn.Module, train *data.Dataset, cfg TrainConfig, opts Options, label string) (fitStats, error) {
	params := fit.Params(model)
	opt, err := optim.New(params, cfg.optimizer())
	if err != nil {
		return fitStats{}, err
	}
	ld := &data.Loader{Data: train, BatchSize: cfg.BatchSize, Shuffle: true, Seed: cfg.Seed, Reuse: true, Augment: *cfg.Augment}
	steps := ld.Len()
	if steps > 0 && cfg.Epochs > MaxTrainSteps/steps {
		return fitStats{}, fmt.Errorf("--epochs %d × %d steps per epoch = %d training steps, over the limit of %d",
			cfg.Epochs, steps, int64(cfg.Epochs)*int64(steps), MaxTrainSteps)
	}
	var sched optim.Schedule = optim.Constant{}
	if cfg.Schedule == "cosine" {
		sched = optim.Cosine{TMax: cfg.Epochs * steps}
	}
	var st fitStats
	// The config as it trains this model: a checkpoint made under another
	// config must not be continued.
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return fitStats{}, err
	}
	first := 0 // epochs done before this run (resumed)
	if ck := opts.ckpt; ck != nil && ck.resume {
		n, saved, found, err := ck.load(label, cfgJSON, model, opt, opts.Progress)
		if err != nil {
			return fitStats{}, err
		}
		if n < 0 || n > cfg.Epochs {
			return fitStats{}, fmt.Errorf("--resume: the checkpoint of %s has %d epochs done, the run has %d", label, n, cfg.Epochs)
		}
		if found {
			first, st = n, saved
			st.resumed = n
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "%s: resuming after epoch %d of %d from %s\n", label, n, cfg.Epochs, ck.path(label))
			}
		}
	}
	prog := opts.progress(label, cfg.Epochs*steps)
	prog.Resumed(first * steps)
	nn.SetTraining(model, true)

	times := newStepTimes(cfg.Epochs*steps, maxStepTimes)
	var lossSum float64
	var right, seen int
	var start time.Time
	var pred, labels []int
	loop := fit.Loop[*tensor.Tensor]{
		Epochs: cfg.Epochs, Start: first, Batches: ld.Epoch, Params: params, Opt: opt,
		Rate: func(epoch, step int) float32 { return sched.Rate(float32(cfg.LR), epoch*steps+step) },
		Loss: func(x *tensor.Tensor, y []int) (*ag.Var, float32) {
			logits := model.Forward(ag.Const(x))
			loss := ag.CrossEntropy(logits, y)
			pred, labels = logits.Value.ArgMaxRows(), y
			return loss, loss.Item()
		},
		Before: func(epoch, step int, _ *tensor.Tensor, _ []int) {
			start = time.Now()
			if step == 0 {
				lossSum, right, seen = 0, 0, 0
			}
		},
		After: func(epoch, step int, l float32) {
			times.add(since(start))
			lossSum += float64(l)
			right += metrics.Correct(pred, labels)
			seen += len(labels)
			st.loss, st.acc = lossSum/float64(step+1), float64(right)/float64(seen)
			prog.Update(epoch*steps+step+1, fmt.Sprintf("epoch %d/%d  loss %.4f  acc %.2f%%", epoch+1, cfg.Epochs, st.loss, 100*st.acc))
		},
		EndEpoch: func(epoch int) (bool, error) {
			ck := opts.ckpt
			if ck == nil {
				return false, nil
			}
			if err := ck.save(label, cfgJSON, model, opt, epoch+1, st); err != nil {
				return false, err
			}
			if ck.stopAfter == epoch+1 && (ck.stopLabel == "" || ck.stopLabel == label) {
				return false, errTestStop
			}
			return false, nil
		},
	}
	switch err := loop.Run(ctx).(type) {
	case nil:
	case *fit.Stopped:
		return st, fmt.Errorf("training stopped at epoch %d, step %d: %w", err.Epoch, err.Step, err.Cause)
	case *fit.NonFinite:
		return st, &NaNError{Epoch: err.Epoch, Step: err.Step, Loss: err.Loss, LR: cfg.LR}
	default:
		return st, err
	}
	// A last step can push weights to Inf without a NaN loss being seen.
	if name := fit.NonFiniteParam(model); name != "" {
		return st, fmt.Errorf("training diverged: parameter %s holds NaN or infinite values after the last step; try a lower learning rate (--lr, now %g)", name, cfg.LR)
	}
	st.medianStep = times.median()
	prog.Done(fmt.Sprintf("loss %.4f  acc %.2f%%", st.loss, 100*st.acc))
	return st, nil
}

// stepTimes keeps the last keep of the step times added, in memory bounded
// by keep whatever the run's length.
type stepTimes struct {
	xs   []float64
	keep int
	n    int // times added
}

// newStepTimes expects steps times and keeps at most keep.
func newStepTimes(steps, keep int) *stepTimes {
	return &stepTimes{xs: make([]float64, 0, max(min(steps, keep), 0)), keep: keep}
}

func (s *stepTimes) add(x float64) {
	if len(s.xs) < s.keep {
		s.xs = append(s.xs, x)
	} else {
		s.xs[s.n%s.keep] = x
	}
	s.n++
}

// median of the times kept: exact for a run of at most keep steps.
func (s *stepTimes) median() float64 { return median(s.xs) }

// median of xs (0 for none); xs is reordered.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
