package attack

import (
	"context"

	"ebyd/data"
	"ebyd/nn"
)

// Most triggers are fixed functions of their parameters. The interfaces here
// are for the few that are computed with a model; run supplies what they need.

// SurrogateUser is a trigger computed with a clean model of the task (the
// label-consistent attack's adversarial perturbations, a universal
// perturbation): run trains a clean surrogate the same way as the attacked
// model and calls UseSurrogate before poisoning.
type SurrogateUser interface {
	Trigger
	// UseSurrogate gives the trigger a clean model trained on train (eval
	// mode; the trigger must not change it) and lets it compute what it needs.
	UseSurrogate(ctx context.Context, model nn.Module, train *data.Dataset) error
}

// Stateful is a trigger with learned state too large for run.json (a
// generator's weights): run saves State as a file of the run folder and gives
// it back to SetState when the trigger is rebuilt from the manifest.
type Stateful interface {
	Trigger
	// StateFile is the file name the state is saved under in a run folder.
	StateFile() string
	State() ([]byte, error)
	SetState(b []byte) error
}

// FitConfig is how the attacked model is trained, for triggers learned
// jointly with it (Learner).
type FitConfig struct {
	Epochs      int
	BatchSize   int
	Optimizer   string // sgd or adam
	LR          float64
	Momentum    float64
	WeightDecay float64
	Schedule    string // constant or cosine (annealed per step to 0)
	Seed        uint64
	// CropPad and Flip are the training augmentation (random crop with
	// that much zero padding, horizontal flip), as data.Loader applies it.
	CropPad int
	Flip    bool
}

// Learner is a trigger learned jointly with the classifier (the input-aware
// dynamic attack): instead of training the model on a poisoned copy of the
// data, run calls Fit, which trains model on clean train data while it poisons
// batches on the fly. After Fit the trigger's Apply stamps test images.
type Learner interface {
	Stateful
	// Fit trains model (and the trigger) with the poisoning p. report, when
	// not nil, receives progress: steps done of total and a status line.
	Fit(ctx context.Context, model nn.Module, train *data.Dataset, p Poisoning, cfg FitConfig,
		report func(done, total int, status string)) error
}
