package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"ebyd/attack"
	"ebyd/data"
	"ebyd/internal/userfile"
	"ebyd/nn"
)

// AttackConfig is the backdoor a training run plants: which trigger, with
// which parameters, and how the training set is poisoned. The poisoned
// index set is drawn from the run's seed.
type AttackConfig struct {
	Name string `json:"name"`
	// Params are the trigger's parameters as JSON (attack.New); after the run
	// they hold every parameter with its default filled in, so run.json alone
	// rebuilds the trigger.
	Params json.RawMessage `json:"params,omitempty"`
	Mode   attack.Mode     `json:"mode"` // "" picks the attack's usual mode
	Target int             `json:"target"`
	Rate   float64         `json:"rate"`
}

// DefaultPoisonRate is the share of training images poisoned when none is
// given (DESIGN §6).
const DefaultPoisonRate = 0.1

// PoisonFile lists the poisoned training images of a backdoored run.
const PoisonFile = "poison_indices.json"

// poisonIndices is PoisonFile's content: indices into the run's training
// set (after any --train-subset), ascending.
type poisonIndices struct {
	Indices []int `json:"indices"`
	Cross   []int `json:"cross,omitempty"` // noise-mode images (WaNet), labels kept
}

// cleanLabelAttacks are poisoned in clean-label mode unless told otherwise:
// their papers define them that way.
var cleanLabelAttacks = map[string]bool{"cl": true}

// check validates what can be checked without the data, so that a typo
// fails before anything is loaded.
func (a *AttackConfig) check() error {
	a.Name = strings.ToLower(a.Name)
	if !knownAttack(a.Name) {
		return fmt.Errorf("unknown attack %q (known: %s)", a.Name, strings.Join(attack.Names(), ", "))
	}
	if a.Rate != 0 && !(a.Rate > 0 && a.Rate <= 1) {
		return fmt.Errorf("poison rate %g: must be in (0, 1]", a.Rate)
	}
	if a.Target < 0 {
		return fmt.Errorf("target %d: labels are not negative", a.Target)
	}
	return nil
}

// resolve fills in the mode and rate defaults and checks the config against
// the training set.
func (a *AttackConfig) resolve(train *data.Dataset, seed uint64) (attack.Poisoning, error) {
	if err := a.check(); err != nil {
		return attack.Poisoning{}, err
	}
	if a.Mode == "" {
		a.Mode = attack.All2One
		if cleanLabelAttacks[a.Name] {
			a.Mode = attack.CleanLabel
		}
	}
	if a.Rate == 0 {
		a.Rate = DefaultPoisonRate
		if a.Mode == attack.CleanLabel && a.Target < train.Classes {
			// Clean-label poisoning can only use target-class images:
			// by default half of them.
			a.Rate = float64(train.Histogram()[a.Target]/2) / float64(train.N)
		}
	}
	p := attack.Poisoning{Mode: a.Mode, Target: a.Target, Rate: a.Rate, Seed: seed}
	if err := p.Validate(train.Classes); err != nil {
		return p, err
	}
	a.Mode = p.Mode
	if a.Mode == attack.All2All {
		a.Target = 0 // unused: every class moves to the next
	}
	return p, nil
}

func knownAttack(name string) bool {
	for _, n := range attack.Names() {
		if n == name {
			return true
		}
	}
	return false
}

// trigger builds the configured trigger for images of h×w×c.
func (a *AttackConfig) trigger(h, w, c int) (attack.Trigger, error) {
	return attack.New(a.Name, attack.Shape{H: h, W: w, C: c}, a.Params)
}

// plant poisons train and trains model on it, or lets a learned trigger
// train model itself. It returns the files the run folder keeps besides the
// model. The config's Params are replaced by the trigger's full parameters.
func plant(ctx context.Context, a *AttackConfig, t attack.Trigger, p attack.Poisoning, model nn.Module,
	train *data.Dataset, cfg TrainConfig, opts Options, man *Manifest) (map[string][]byte, error) {
	files := map[string][]byte{}
	if su, ok := t.(attack.SurrogateUser); ok {
		// A clean model trained the same way: the trigger is computed on it.
		mi := man.Model
		mi.InitSeed = cfg.Seed + 1
		sur, err := mi.Build()
		if err != nil {
			return nil, err
		}
		if _, err := trainModel(ctx, sur, train, cfg, opts, "surrogate"); err != nil {
			return nil, fmt.Errorf("training the clean surrogate model: %w", err)
		}
		nn.SetTraining(sur, false)
		if err := su.UseSurrogate(ctx, sur, train); err != nil {
			return nil, err
		}
	}
	if l, ok := t.(attack.Learner); ok {
		prog := opts.progress("train", 1)
		err := l.Fit(ctx, model, train, p, attack.FitConfig{
			Epochs: cfg.Epochs, BatchSize: cfg.BatchSize, Optimizer: cfg.Optimizer, LR: cfg.LR,
			Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay, Schedule: cfg.Schedule, Seed: cfg.Seed,
			CropPad: cfg.Augment.CropPad, Flip: cfg.Augment.Flip,
		}, func(done, total int, status string) {
			prog.total = total
			prog.Update(done, status)
		})
		if err != nil {
			return nil, err
		}
		prog.Done("")
	} else {
		pd, err := attack.Poison(train, t, p)
		if err != nil {
			return nil, err
		}
		st, err := trainModel(ctx, model, pd.Data, cfg, opts, "train")
		if err != nil {
			return nil, err
		}
		man.Seconds["median_step"] = st.medianStep
		man.ResumedAfter = st.resumed
		man.Metrics["train_loss"] = st.loss
		man.Metrics["train_acc"] = st.acc
		b, err := json.Marshal(poisonIndices{Indices: pd.Indices, Cross: pd.Cross})
		if err != nil {
			return nil, err
		}
		files[PoisonFile] = b
		man.Metrics["poisoned"] = float64(len(pd.Indices))
	}
	if s, ok := t.(attack.Stateful); ok {
		b, err := s.State()
		if err != nil {
			return nil, err
		}
		files[s.StateFile()] = b
	}
	a.Params = attack.Params(t)
	return files, nil
}

// Attack returns the backdoor a training run planted: its config (nil for
// a clean or imported run) and the trigger rebuilt from run.json and, for a
// trigger with learned state, the state file beside it.
func (f *Folder) Attack() (*AttackConfig, attack.Trigger, error) {
	if f.Manifest.Stage != "train" {
		return nil, nil, nil
	}
	var cfg TrainConfig
	if err := json.Unmarshal(f.Manifest.Config, &cfg); err != nil {
		return nil, nil, fmt.Errorf("%s: corrupt config: %w", filepath.Join(f.Dir, ManifestFile), err)
	}
	if cfg.Attack == nil {
		return nil, nil, nil
	}
	d := f.Manifest.Dataset
	t, err := cfg.Attack.trigger(d.Height, d.Width, d.Channels)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Join(f.Dir, ManifestFile), err)
	}
	if s, ok := t.(attack.Stateful); ok {
		path := filepath.Join(f.Dir, s.StateFile())
		b, err := userfile.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("run folder %s has no %s, the learned %s trigger", f.Dir, s.StateFile(), cfg.Attack.Name)
		}
		if err != nil {
			return nil, nil, err
		}
		if err := s.SetState(b); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return cfg.Attack, t, nil
}
