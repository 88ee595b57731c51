package remove

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"ebyd/data"
	"ebyd/fit"
	reg "ebyd/internal/registry"
	"ebyd/nn"
	"ebyd/tensor"
)

// Remover is one removal method. Remove edits m, the suspect model, in place
// using nothing but the clean defense images d (and, for ebyd-rnp, the
// exposed model in env), and returns what it did. The edited m is a plain
// network (any gate folded into its weights) in evaluation mode. On an
// error m is left in an unspecified state.
type Remover interface {
	Remove(ctx context.Context, m nn.Module, d *data.Defense, env Env) (*Report, error)
}

// Env is what the caller gives a removal besides the model and the data.
type Env struct {
	// Seed fixes every random draw of the method (batch order, noise): the
	// same seed, data and GOMAXPROCS give the same bytes.
	Seed uint64
	// Exposed is the suspect model after exposure (package expose), with
	// the same architecture as the suspect; ebyd-rnp learns its masks on
	// it. Other methods ignore it. A method may edit it.
	Exposed nn.Module
	// Trigger is the trigger recovered for the detected target (nil: none);
	// the pruning methods' fine-tuning can unlearn it (Pruning.TriggerShare).
	Trigger *Trigger
	// Progress, when set, is told how many of the method's steps are done
	// out of the most it may take, with a short status.
	Progress func(done, total int, status string)
}

func (e Env) progress(done, total int, status string) {
	if e.Progress != nil {
		e.Progress(done, total, status)
	}
}

// Channel is one gated channel (nn.Gate) with a score: the learned mask
// value for the mask methods, the mean activation for fp.
type Channel struct {
	Layer string  `json:"layer"`
	Index int     `json:"channel"`
	Value float64 `json:"value"`
}

// Row is one point of a removal's curves: the state of the model being
// trained after an epoch of one of the method's stages.
type Row struct {
	// Stage names what was trained: "unlearn", "masks", "finetune",
	// "teacher", "student", "unlearn-adv", ....
	Stage string `json:"stage"`
	Epoch int    `json:"epoch"`
	// DefenseAcc is the top-1 accuracy on the defense images, evaluation
	// mode, no augmentation, of the model the stage trains.
	DefenseAcc float64 `json:"defense_acc"`
	// Loss is the stage's objective averaged over the epoch's steps.
	Loss float64 `json:"loss"`
}

// Report is what a removal did.
type Report struct {
	Method string `json:"method"`
	// Gated is the number of channels the model's gates cover
	// (nn.ChannelGates), for the pruning methods.
	Gated int `json:"gated_channels,omitempty"`
	// Scores are every channel's score (mask value or activation),
	// ascending: the pruning order.
	Scores []Channel `json:"scores,omitempty"`
	// Pruned are the channels whose gate was set to 0 in the suspect
	// model, in pruning order.
	Pruned []Channel `json:"pruned,omitempty"`
	// Cut says how the pruning point was chosen, for the pruning methods.
	Cut *Cut `json:"cut,omitempty"`
	// Rows are the training curves of every stage, in order.
	Rows []Row `json:"rows,omitempty"`
	// InitialDefenseAcc and DefenseAcc are the suspect model's defense
	// accuracy before and after removal.
	InitialDefenseAcc float64 `json:"initial_defense_acc"`
	DefenseAcc        float64 `json:"defense_acc"`
	// Notes record what a guard did (a retried divergence, say).
	Notes []string `json:"notes,omitempty"`
}

// registry holds the methods by name, each with its default parameters.
var registry = reg.New("removal method", func(m Remover) error {
	if c, ok := m.(interface{ check() error }); ok {
		return c.check()
	}
	return nil
})

func register(name string, f func() Remover) { registry.Add(name, f) }

// Names lists the methods, sorted.
func Names() []string { return registry.Names() }

// Default is the method used when none is named.
const Default = "ebyd-rnp"

// NeedsExposed reports whether the named method needs Env.Exposed.
func NeedsExposed(name string) bool { return strings.ToLower(name) == "ebyd-rnp" }

// New returns the named method with its defaults, overridden by params (a
// JSON object of the method's parameters; unknown names are errors).
func New(name string, params json.RawMessage) (Remover, error) { return registry.Make(name, params) }

// Params returns r's parameters as JSON, the form New reads back.
func Params(r Remover) json.RawMessage { return registry.Params(r) }

// snapshot copies m's parameters and buffers, to put them back later
// (restore) or to run a second network's weights through m.
type snapshot map[string]*tensor.Tensor

func take(m nn.Module) snapshot {
	s := snapshot{}
	for _, e := range nn.StateDict(m) {
		s[e.Name] = e.Tensor.Clone()
	}
	return s
}

// restore writes s back into m.
func (s snapshot) restore(m nn.Module) error { return nn.LoadStateDict(m, s) }

// swap exchanges m's weights with s's, in place: after it, m computes what
// s held and s holds what m did.
func (s snapshot) swap(m nn.Module) {
	for _, e := range nn.StateDict(m) {
		o := s[e.Name].Data
		for i, v := range e.Tensor.Data {
			e.Tensor.Data[i], o[i] = o[i], v
		}
	}
}

// checkFinite reports a parameter of m that holds NaN or infinity.
func checkFinite(m nn.Module, what string) error {
	if name := fit.NonFiniteParam(m); name != "" {
		return fmt.Errorf("%s diverged: parameter %s holds NaN or infinite values", what, name)
	}
	return nil
}

// begin makes the report of a removal and measures the suspect model.
func begin(method string, m nn.Module, d *data.Defense) (*Report, *data.Dataset, error) {
	ds := d.Data()
	acc, err := fit.Accuracy(m, ds, fit.EvalBatch)
	if err != nil {
		return nil, nil, err
	}
	return &Report{Method: method, InitialDefenseAcc: acc}, ds, nil
}

// end checks and measures the cleaned model.
func (r *Report) end(m nn.Module, ds *data.Dataset) (*Report, error) {
	nn.SetTraining(m, false)
	if err := checkFinite(m, r.Method); err != nil {
		return nil, err
	}
	acc, err := fit.Accuracy(m, ds, fit.EvalBatch)
	if err != nil {
		return nil, err
	}
	r.DefenseAcc = acc
	return r, nil
}
