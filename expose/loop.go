package expose

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/fit"
	"ebyd/nn"
	"ebyd/optim"
	"ebyd/tensor"
)

// loop is the gradient loop the unlearning and fine-tuning methods share:
// epochs of minibatch steps over the defense images (shuffled from the
// seed, with the dataset's usual training augmentation, data.DefaultAugment,
// as the seed's defense loader), a trace row after each epoch, and an
// optional stop rule on defense accuracy.
type loop struct {
	method     string
	optimizer  string // adam or sgd
	lr         float64
	momentum   float64 // sgd
	wd         float64 // coupled L2 weight decay, as torch.optim's weight_decay
	milestones []int   // MultiStepLR, stepped once per epoch
	gamma      float64
	epochs     int
	batch      int
	// train runs the updates in training mode (BatchNorm batch statistics
	// with running statistics updated, dropout on); otherwise the whole
	// network stays in evaluation mode.
	train bool
	// stopAcc stops after the first epoch whose defense accuracy is at most
	// stopAcc; negative: never.
	stopAcc float64
	// objective is the loss to minimise and the value to report for a batch
	// (e.g. −CE and CE).
	objective func(logits *ag.Var, y []int, r *rand.Rand) (minimise *ag.Var, report float32)
	// params are the tensors updated (nil: every parameter of the model).
	params []*ag.Var
	// perturb, when set, edits every training batch (normalised NCHW)
	// before the step, drawing from the loop's generator.
	perturb func(x *tensor.Tensor, r *rand.Rand)
	// afterRow, when set, sees each row as it is made and may stop the
	// loop early by returning a reason.
	afterRow func(Row) string
}

// negCE is the unlearning objective: maximise the clean cross-entropy.
func negCE(logits *ag.Var, y []int, _ *rand.Rand) (*ag.Var, float32) {
	ce := ag.CrossEntropy(logits, y)
	return ag.Neg(ce), ce.Item()
}

// run carries out the loop on m.
func (l *loop) run(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Trace, error) {
	ds := d.Data()
	ps := l.params
	if ps == nil {
		ps = fit.Params(m)
	}
	opt, err := optim.New(ps, optim.Config{Name: l.optimizer, LR: l.lr, Momentum: l.momentum, WeightDecay: l.wd})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.method, err)
	}
	sched := optim.MultiStep{Milestones: l.milestones, Gamma: float32(l.gamma)}
	rate := func(epoch int) float32 { return sched.Rate(float32(l.lr), epoch) }
	ld := &data.Loader{Data: ds, BatchSize: l.batch, Shuffle: true, Seed: env.Seed, Reuse: true, Augment: data.DefaultAugment(ds.Name)}
	steps := ld.Len()
	r := rand.New(rand.NewPCG(env.Seed, 0x6c6f6f70)) // "loop": random labels
	tr := &Trace{Method: l.method, Stop: "epochs"}
	rec := &recorder{m: m, ds: ds, env: env, trace: tr}
	nn.SetTraining(m, false)
	first, err := rec.row(0, 0, l.lr, nil)
	if err != nil {
		return nil, err
	}
	if l.afterRow != nil {
		if why := l.afterRow(first); why != "" {
			tr.Stop = why
			return tr, nil
		}
	}
	var sum float64 // the epoch's loss so far, over n steps
	var n int
	gd := fit.Loop[*tensor.Tensor]{
		Epochs: l.epochs, Batches: ld.Epoch, Params: ps, Opt: opt,
		Rate: func(epoch, _ int) float32 { return rate(epoch) },
		Loss: func(x *tensor.Tensor, y []int) (*ag.Var, float32) { return l.objective(m.Forward(ag.Const(x)), y, r) },
		Before: func(_, step int, x *tensor.Tensor, _ []int) {
			if step == 0 {
				nn.SetTraining(m, l.train)
				sum, n = 0, 0
			}
			if l.perturb != nil {
				l.perturb(x, r)
			}
		},
		After: func(epoch, step int, v float32) {
			sum += float64(v)
			n++
			env.progress(epoch*steps+n, l.epochs*steps, fmt.Sprintf("epoch %d/%d  loss %.4f", epoch+1, l.epochs, sum/float64(n)))
		},
		EndEpoch: func(epoch int) (bool, error) {
			nn.SetTraining(m, false)
			if err := checkFinite(m, l.method); err != nil {
				return false, err
			}
			mean := sum / float64(n)
			row, err := rec.row(epoch+1, 0, float64(rate(epoch)), &mean)
			if err != nil {
				return false, err
			}
			if l.stopAcc >= 0 && row.DefenseAcc <= l.stopAcc {
				tr.Stop = "threshold"
				return true, nil
			}
			if l.afterRow != nil {
				if why := l.afterRow(row); why != "" {
					tr.Stop = why
					return true, nil
				}
			}
			return false, nil
		},
	}
	switch err := gd.Run(ctx).(type) {
	case nil:
	case *fit.Stopped:
		return nil, fmt.Errorf("%s stopped at epoch %d: %w", l.method, err.Epoch, err.Cause)
	case *fit.NonFinite:
		return nil, fmt.Errorf("%s diverged: the loss is %v at epoch %d, step %d; lower the learning rate (now %g)", l.method, err.Loss, err.Epoch, err.Step, float64(rate(err.Epoch-1)))
	default:
		return nil, err
	}
	nn.SetTraining(m, false)
	tr.Candidates = rankByShare(tr.Final().Share)
	return tr, nil
}

// checkCommon validates the hyperparameters every loop method has.
func checkCommon(lr, wd float64, epochs, batch int) error {
	switch {
	case !(lr > 0) || math.IsInf(lr, 0):
		return fmt.Errorf("lr %g: must be a positive number", lr)
	case wd < 0:
		return fmt.Errorf("weight_decay %g: must not be negative", wd)
	case epochs < 1:
		return fmt.Errorf("epochs %d: must be at least 1", epochs)
	case batch < 1:
		return fmt.Errorf("batch_size %d: must be at least 1", batch)
	}
	return nil
}

// adamRecipe is the schedule cul-seed and confusion-ft share with the
// seed's unlearn.py and sfft.py: Adam with coupled weight decay, the seed's
// MultiStepLR([20, 20], 0.1), and an optional stop rule. Its fields are the
// methods' JSON parameters.
type adamRecipe struct {
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	Epochs      int     `json:"epochs"`
	BatchSize   int     `json:"batch_size"`
	TrainMode   bool    `json:"train_mode"`
	// StopAcc, when positive, stops after the first epoch whose defense
	// accuracy is at most StopAcc (the seed defines stop_acc 0.1 but never
	// uses it, so the default 0 never stops).
	StopAcc float64 `json:"stop_acc"`
}

func (c *adamRecipe) check() error {
	return checkCommon(c.LR, c.WeightDecay, c.Epochs, c.BatchSize)
}

// loop is the recipe's training loop for method, minimising objective.
func (c *adamRecipe) loop(method string, objective func(logits *ag.Var, y []int, r *rand.Rand) (*ag.Var, float32)) *loop {
	stop := -1.0
	if c.StopAcc > 0 {
		stop = c.StopAcc
	}
	return &loop{
		method: method, optimizer: "adam", lr: c.LR, wd: c.WeightDecay,
		milestones: []int{20, 20}, gamma: 0.1, epochs: c.Epochs, batch: c.BatchSize,
		train: c.TrainMode, stopAcc: stop, objective: objective,
	}
}
