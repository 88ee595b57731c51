package expose

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	ag "ebyd/autograd"
	"ebyd/data"
	"ebyd/fit"
	reg "ebyd/internal/registry"
	"ebyd/nn"
)

// Exposer is one exposure method. Expose edits m in place, using nothing
// but the clean defense images d, until the backdoor shows, and returns the
// trace of what happened. The edited m is the exposed model: a plain
// network (any per-channel gate is folded into its weights) in evaluation
// mode. On an error m is left in an unspecified state.
type Exposer interface {
	Expose(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Trace, error)
}

// A Stepped exposure has a learning rate a caller may lower, so that an
// exposure that diverged can run again with smaller steps.
type Stepped interface {
	Exposer
	Rate() float64
	SetRate(lr float64)
}

// Env is what the caller gives an exposure besides the model and the data.
type Env struct {
	// Seed fixes every random draw of the method (batch order, random
	// labels, noise): the same seed, data and GOMAXPROCS give the same
	// bytes.
	Seed uint64
	// ASR, when set, is the evaluator's attack success rate of a model. The
	// run stage builds it from the suspect run's own trigger and test
	// images; exposure only calls it, once per trace row, and never sees
	// the data behind it. An error from it ends the exposure with that
	// error.
	ASR func(nn.Module) (float64, error)
	// Report, when set, receives each trace row as soon as it is made.
	Report func(Row)
	// Progress, when set, is told how many of the method's steps are done
	// out of the most it may take, with a short status.
	Progress func(done, total int, status string)
}

// Row is one line of a trace: the state of the model after an epoch (or,
// for act-prune and awp, after a pruning rate or noise level).
type Row struct {
	Epoch int `json:"epoch"` // 0: the suspect model before any edit
	// Level is the pruning rate (act-prune) or noise bound (awp) of the
	// row; 0 for the other methods.
	Level float64 `json:"level,omitempty"`
	// DefenseAcc is the top-1 accuracy on the defense images in evaluation
	// mode, without augmentation.
	DefenseAcc float64 `json:"defense_acc"`
	// Loss is the method's loss averaged over the epoch's steps: the clean
	// cross-entropy being maximised for the unlearning methods, the
	// cross-entropy to the random labels for confusion-ft, and the clean
	// cross-entropy of the edited model on the defense images for act-prune
	// and awp (and for row 0).
	Loss float64 `json:"loss"`
	LR   float64 `json:"lr"`
	// Share is the share of defense images predicted as each class: the
	// exposure signal.
	Share []float64 `json:"class_share"`
	// ASR is the evaluator's attack success rate, when Env.ASR is set.
	ASR *float64 `json:"asr,omitempty"`
}

// Candidate is a label with the exposure's evidence that it is the
// backdoor target (higher is stronger).
type Candidate struct {
	Label int     `json:"label"`
	Score float64 `json:"score"`
}

// Trace is what an exposure did.
type Trace struct {
	Method string `json:"method"`
	Rows   []Row  `json:"rows"`
	// Stop says why the method stopped: "threshold" (defense accuracy fell
	// to the stop threshold), "epochs" (it ran its full course) or a
	// method's own reason.
	Stop string `json:"stop"`
	// Candidates ranks every label as a backdoor target, most likely first.
	// Methods without a scoring rule of their own rank by the final class
	// share.
	Candidates []Candidate `json:"candidates"`
	// Rounds summarises each round of a method that runs several (cul);
	// Rows are the first round's.
	Rounds []Round `json:"rounds,omitempty"`
}

// Round is one round of a multi-round exposure.
type Round struct {
	Probe    string    `json:"probe"`    // the input perturbation
	Excluded []int     `json:"excluded"` // classes masked out in this round
	Collapse int       `json:"collapse"` // the argmax of the final class share
	Share    []float64 `json:"class_share"`
	Epochs   int       `json:"epochs"`
	Stop     string    `json:"stop"`
}

// Final is the last row.
func (t *Trace) Final() Row { return t.Rows[len(t.Rows)-1] }

// Predicted is the label the exposed model predicts most on the defense
// images (the argmax of the final class share; the lower label on a tie).
func (t *Trace) Predicted() int { return argmax(t.Final().Share) }

func argmax(xs []float64) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}

// rankByShare ranks labels by a class-share vector.
func rankByShare(share []float64) []Candidate {
	out := make([]Candidate, len(share))
	for i, s := range share {
		out[i] = Candidate{i, s}
	}
	sortCandidates(out)
	return out
}

func sortCandidates(c []Candidate) {
	sort.SliceStable(c, func(i, j int) bool { return c[i].Score > c[j].Score })
}

// registry holds the methods by name, each with its default parameters.
var registry = reg.New("exposure method", func(m Exposer) error {
	if c, ok := m.(interface{ check() error }); ok {
		return c.check()
	}
	return nil
})

func register(name string, f func() Exposer) { registry.Add(name, f) }

// Names lists the methods, sorted.
func Names() []string { return registry.Names() }

// Default is the method used when none is named.
const Default = "cul"

// New returns the named method with its defaults, overridden by params (a
// JSON object of the method's parameters; unknown names are errors).
func New(name string, params json.RawMessage) (Exposer, error) { return registry.Make(name, params) }

// Params returns e's parameters as JSON, the form New reads back.
func Params(e Exposer) json.RawMessage { return registry.Params(e) }

// evaluate measures m on ds in evaluation mode without a graph: accuracy,
// mean cross-entropy and class shares. m's mode is restored afterwards.
func evaluate(m nn.Module, ds *data.Dataset) (acc, loss float64, share []float64, err error) {
	pred, loss, err := predict(m, ds)
	if err != nil {
		return 0, 0, nil, err
	}
	share = make([]float64, ds.Classes)
	right := 0
	for i, p := range pred {
		share[p]++
		if p == ds.Labels[i] {
			right++
		}
	}
	for c := range share {
		share[c] /= float64(len(pred))
	}
	return float64(right) / float64(len(pred)), loss, share, nil
}

// predict returns m's predictions on ds and the mean cross-entropy to its
// labels, in evaluation mode.
func predict(m nn.Module, ds *data.Dataset) ([]int, float64, error) {
	pred := make([]int, 0, ds.N)
	var sum float64
	err := fit.Eval(m, ds, fit.EvalBatch, func(logits *ag.Var, y []int) {
		sum += float64(ag.CrossEntropy(logits, y).Item()) * float64(len(y))
		pred = append(pred, logits.Value.ArgMaxRows()...)
	})
	if err != nil {
		return nil, 0, err
	}
	return pred, sum / float64(ds.N), nil
}

func isTraining(m nn.Module) bool {
	t, ok := m.(interface{ Training() bool })
	return ok && t.Training()
}

// checkFinite reports a parameter of m that is not a number.
func checkFinite(m nn.Module, method string) error {
	if name := fit.NonFiniteParam(m); name != "" {
		return fmt.Errorf("%s diverged: parameter %s holds NaN or infinite values; lower the learning rate", method, name)
	}
	return nil
}

// recorder builds rows and passes them on.
type recorder struct {
	m     nn.Module
	ds    *data.Dataset
	env   Env
	trace *Trace
}

// row measures the model and appends a row.
func (r *recorder) row(epoch int, level, lr float64, loss *float64) (Row, error) {
	acc, evalLoss, share, err := evaluate(r.m, r.ds)
	if err != nil {
		return Row{}, err
	}
	row := Row{Epoch: epoch, Level: level, DefenseAcc: acc, Loss: evalLoss, LR: lr, Share: share}
	if loss != nil {
		row.Loss = *loss
	}
	if r.env.ASR != nil {
		training := isTraining(r.m)
		nn.SetTraining(r.m, false)
		a, err := r.env.ASR(r.m)
		nn.SetTraining(r.m, training)
		if err != nil {
			return Row{}, fmt.Errorf("attack success rate: %w", err)
		}
		row.ASR = &a
	}
	r.trace.Rows = append(r.trace.Rows, row)
	if r.env.Report != nil {
		r.env.Report(row)
	}
	return row, nil
}

func (e Env) progress(done, total int, status string) {
	if e.Progress != nil {
		e.Progress(done, total, status)
	}
}
