package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"ebyd/attack"
	"ebyd/internal/atomicfile"
)

// PipelineConfig is the whole EBYD chain on one suspect model: train it
// (or take a run folder), expose it, detect its target and decide whether
// it is backdoored, recover the trigger for the detected label, remove the
// backdoor and measure the cleaned model.
type PipelineConfig struct {
	// Suspect, when set, is an existing run folder (ebyd train or ebyd
	// import) to defend; Train is then ignored.
	Suspect string      `json:"suspect,omitempty"`
	Train   TrainConfig `json:"train"`
	// The defense set every stage shares: DefenseSize clean training
	// images (0: DefaultDefenseSize) drawn with DefenseSeed.
	DefenseSize int    `json:"defense_size"`
	DefenseSeed uint64 `json:"defense_seed"`
	Expose      Method `json:"expose"` // "" method: expose.Default
	// Decision is how the model is judged (Chain.Decision): scan, ebyd
	// scan's verdict over every label, or gap, Neural Cleanse over the
	// exposure's first Candidates labels (0: DefaultCandidates).
	Decision   string `json:"decision"`
	Candidates int    `json:"candidates"`
	Remove     Method `json:"remove"` // "" method: remove.Default
	// RemoveAlways removes even when detection finds no backdoor (by
	// default a model found clean is left as it is).
	RemoveAlways bool `json:"remove_always"`
}

// Method names a stage's method and its parameters as JSON.
type Method struct {
	Name   string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
}

// DefaultPipeline is what ebyd pipeline runs without a config: a BadNets
// model (all2one, target 0, 10% poisoned) of the default MNIST recipe,
// exposed with cul, decided by scan, ebyd-rnp.
func DefaultPipeline() PipelineConfig {
	t := DefaultTrainConfig()
	t.Attack = &AttackConfig{Name: "badnets", Mode: attack.All2One, Target: 0, Rate: DefaultPoisonRate}
	return PipelineConfig{Train: t, DefenseSize: DefaultDefenseSize, DefenseSeed: 1,
		Expose: Method{Name: "cul"}, Decision: DecisionScan, Candidates: DefaultCandidates, Remove: Method{Name: "ebyd-rnp"}}
}

// ParsePipeline reads a pipeline config in YAML (or JSON, a subset of it)
// over DefaultPipeline: keys it leaves out keep their defaults. The keys
// are those of PipelineConfig's JSON form, matched exactly (case
// included); an unknown key is an error. An explicit null train.attack
// trains a clean suspect.
func ParsePipeline(b []byte) (PipelineConfig, error) {
	cfg := DefaultPipeline()
	var tree any
	if err := yaml.Unmarshal(b, &tree); err != nil {
		return cfg, fmt.Errorf("not valid YAML: %w", err)
	}
	if tree == nil {
		return cfg, nil
	}
	if _, ok := tree.(map[string]any); !ok {
		return cfg, errors.New("the config must be a mapping of keys (train, expose, remove, ...)")
	}
	// encoding/json matches keys without regard to case ("Train" would be
	// train); a config's keys are matched exactly.
	if err := checkKeys("", tree, reflect.TypeFor[PipelineConfig]()); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	js, err := json.Marshal(tree)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// checkKeys reports the first key of the decoded YAML tree v (in sorted
// order) that is not, spelled exactly, the JSON name of a field of the
// struct type t where v is a mapping for one. Values that decode
// themselves (json.RawMessage params) are not looked into.
func checkKeys(path string, v any, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(reflect.TypeFor[json.Unmarshaler]()) || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil // json reports the wrong type
		}
		fields := map[string]reflect.Type{}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.IsExported() && name != "-" {
				if name == "" {
					name = f.Name
				}
				fields[name] = f.Type
			}
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("unknown field %q%s (keys are matched exactly, case included)", k, where(path))
			}
			if err := checkKeys(path+"."+k, m[k], ft); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if s, ok := v.([]any); ok {
			for i, e := range s {
				if err := checkKeys(fmt.Sprintf("%s[%d]", path, i), e, t.Elem()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func where(path string) string {
	if path == "" {
		return ""
	}
	return " in " + strings.TrimPrefix(path, ".")
}

// PipelineFile is the summary a pipeline writes into its folder.
const PipelineFile = "pipeline.json"

// The run folders a pipeline writes under its folder besides the chain's
// (ChainExposed, ChainDetect).
const (
	PipelineSuspect = "suspect"
	PipelineRemoved = "removed"
)

// PipelineResult is PipelineFile's content.
type PipelineResult struct {
	Config  PipelineConfig `json:"config"`
	Suspect string         `json:"suspect"`
	Reused  bool           `json:"reused_suspect"` // the suspect was trained by an earlier pipeline
	// What the defender found.
	PredictedTarget int `json:"predicted_target"`
	// The decision's evidence: gap's candidates and gap, scan's p-value
	// and norm ratio (smallest mask over the median).
	Candidates   []int    `json:"candidates,omitempty"`
	Gap          float64  `json:"gap,omitempty"`
	PValue       *float64 `json:"p_value,omitempty"`
	NormRatio    float64  `json:"norm_ratio,omitempty"`
	Backdoored   bool     `json:"backdoored"`
	MaskL1       float64  `json:"mask_l1"`
	TriggerImage string   `json:"trigger_image"`
	Removed      bool     `json:"removed"`
	Pruned       int      `json:"pruned,omitempty"`
	Gated        int      `json:"gated_channels,omitempty"`
	// What the evaluator measured: the suspect's planted backdoor and the
	// cleaned model (CleanAcc/ASR equal the initial ones when nothing was
	// removed).
	Attack          string   `json:"attack,omitempty"`
	TrueTarget      *int     `json:"true_target,omitempty"`
	TargetCorrect   *bool    `json:"target_correct,omitempty"`
	InitialCleanAcc float64  `json:"initial_clean_acc"`
	CleanAcc        float64  `json:"clean_acc"`
	InitialASR      *float64 `json:"initial_asr,omitempty"`
	ASR             *float64 `json:"asr,omitempty"`
	// Seconds per stage (train is 0 for a reused or given suspect).
	Stages  []StageTime `json:"stages"`
	Seconds float64     `json:"seconds"`
	Engine  Engine      `json:"engine"`
}

// StageTime is one stage's wall-clock seconds.
type StageTime struct {
	Stage   string  `json:"stage"`
	Seconds float64 `json:"seconds"`
}

// Pipeline runs the chain into the folder opts.Out (created when
// missing), one run folder per stage. A suspect the folder already holds,
// trained with the same recipe, is reused unless opts.Force; the other
// stages always run again.
func Pipeline(ctx context.Context, cfg PipelineConfig, opts Options) (*PipelineResult, error) {
	start := time.Now()
	if opts.Out == "" {
		return nil, errors.New("no output folder given (--out)")
	}
	res := &PipelineResult{Config: cfg, Engine: CurrentEngine()}
	stages := []string{"suspect", "expose", "detect", "remove"}
	stage := func(name string) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "pipeline %d/%d: %s\n", slices.Index(stages, name)+1, len(stages), name)
		}
	}
	sub := func(name string) Options {
		o := opts
		o.Out, o.Force = filepath.Join(opts.Out, name), true
		return o
	}
	// Check what can be checked before training.
	if d := cfg.Decision; d != "" && d != DecisionScan && d != DecisionGap {
		return nil, fmt.Errorf("decision %q: want %s or %s", d, DecisionScan, DecisionGap)
	}
	if cfg.Suspect == "" {
		if err := cfg.Train.resolve(); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}

	stage("suspect")
	t0 := time.Now()
	res.Suspect = cfg.Suspect
	if res.Suspect == "" {
		res.Suspect = filepath.Join(opts.Out, PipelineSuspect)
		f, err := Open(res.Suspect)
		res.Reused = err == nil && !opts.Force && sameRecipe(f, cfg.Train)
		if !res.Reused {
			if _, err := Train(ctx, cfg.Train, sub(PipelineSuspect)); err != nil {
				return nil, fmt.Errorf("train: %w", err)
			}
		}
	}
	suspect, err := Open(res.Suspect)
	if err != nil {
		return nil, err
	}
	res.Stages = append(res.Stages, StageTime{"train", since(t0)})
	m := suspect.Manifest
	res.InitialCleanAcc, res.CleanAcc = m.Metrics["clean_acc"], m.Metrics["clean_acc"]
	if own, _, err := suspect.Attack(); err != nil {
		return nil, err
	} else if own != nil {
		asr := m.Metrics["asr"]
		res.Attack, res.InitialASR, res.ASR = own.Name, &asr, &asr
	}

	chain := &Chain{Suspect: res.Suspect, Dir: opts.Out, Expose: cfg.Expose, Decision: cfg.Decision, Candidates: cfg.Candidates,
		DefenseSize: cfg.DefenseSize, DefenseSeed: cfg.DefenseSeed,
		Stage: stage}
	ex, det, err := chain.Detect(ctx, opts)
	if err != nil {
		return nil, err
	}
	res.Stages = append(res.Stages, StageTime{"expose", ex.Seconds}, StageTime{"detect", det.Seconds})
	res.PredictedTarget = *det.PredictedTarget
	if sc := det.Scan; sc != nil {
		p := sc.PValue
		res.PValue, res.NormRatio = &p, sc.Ratio
	} else {
		res.Candidates = det.NC.Labels
		if det.Score != nil {
			res.Gap = *det.Score
		}
	}
	res.TrueTarget, res.TargetCorrect = det.TrueTarget, det.TargetCorrect
	// One candidate decides nothing: go on as if backdoored.
	res.Backdoored = det.Backdoored == nil || *det.Backdoored
	for _, t := range det.NC.Triggers {
		if t.Label == res.PredictedTarget {
			res.MaskL1 = t.L1
		}
	}
	res.TriggerImage = filepath.Join(chain.Detected(), fmt.Sprintf("trigger_%d.png", res.PredictedTarget))

	if res.Backdoored || cfg.RemoveAlways {
		rm, err := chain.Remove(ctx, cfg.Remove, filepath.Join(opts.Out, PipelineRemoved), opts)
		if err != nil {
			return nil, err
		}
		res.Removed, res.Pruned, res.Gated = true, rm.Pruned, rm.Gated
		res.InitialCleanAcc, res.InitialASR = rm.InitialCleanAcc, rm.InitialASR
		res.CleanAcc, res.ASR = rm.CleanAcc, rm.ASR
		res.Stages = append(res.Stages, StageTime{"remove", rm.Seconds})
	}
	res.Seconds = since(start)
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	return res, atomicfile.WriteFile(filepath.Join(opts.Out, PipelineFile), append(b, '\n'))
}
