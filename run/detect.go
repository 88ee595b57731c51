package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"math"
	"strings"
	"time"

	"ebyd/attack"
	"ebyd/detect"
	"ebyd/report"
)

// DetectConfig asks for one detection method to be run on a suspect run's
// model (or on the model an exposure stage derived from it), as the
// defender would, and for its answer to be scored against the run's own
// backdoor.
type DetectConfig struct {
	Run    string `json:"run"`    // the suspect run folder
	Method string `json:"method"` // detect.Names()
	// Exposed is a run folder derived from Run by an exposure stage
	// (its manifest's parent is Run). label and model read its model;
	// nc takes the label it detects unless Labels are given; mmbd, strip
	// and cd run on it. "" uses the suspect's own model throughout.
	Exposed string `json:"exposed,omitempty"`
	// On overrides which model the detector runs on: "suspect" or
	// "exposed" ("" for the method's default above).
	On string `json:"on,omitempty"`
	// Labels, for nc, are the labels to recover triggers for (nil: every
	// label, or the Candidates labels the exposure ranks first).
	Labels []int `json:"labels,omitempty"`
	// Candidates, for nc with Exposed and no Labels, is how many of the
	// exposure's most likely target labels get a trigger (0:
	// DefaultCandidates): EBYD's targeted trigger recovery, where a real
	// target shows a far smaller mask than the other candidates
	// (detect.CandidateGap decides; 1 only names the label). The
	// ranking is the exposed run's CandidatesFile, or without one the
	// exposed model's class shares on the defense set.
	Candidates int `json:"candidates,omitempty"`

	// The defense set, the only data the detector sees: with Exposed and
	// DefenseSize 0, the exposed run's own (Folder.Defense); otherwise
	// DefenseSize (0: DefaultDefenseSize) images of the suspect's clean
	// training split drawn with DefenseSeed (data.NewDefense), as ebyd
	// expose draws them.
	DefenseSize int    `json:"defense_size"`
	DefenseSeed uint64 `json:"defense_seed"`

	// Samples is, for strip and cd, the number of clean test images
	// scored (a seeded subset drawn with SampleSeed from the run's test
	// images; DefaultDetectSamples when 0); the same images with the run's
	// trigger (those whose label is not the target, for all2one) are
	// scored beside them. STRIP costs about 36 ms of one core per input
	// on mnistnet (100 blends), CD about 80 ms (100 steps).
	Samples    int    `json:"samples"`
	SampleSeed uint64 `json:"sample_seed"`

	// Params overrides the method's parameters (a JSON object of some of
	// its fields, detect.New); nil keeps its defaults.
	Params json.RawMessage `json:"params,omitempty"`
}

// Defaults of DetectConfig (and of ExposeConfig's defense set).
const (
	DefaultDefenseSize   = 500
	DefaultDetectSamples = 200
	// DefaultCandidates is how many of an exposure's candidate labels
	// targeted NC tries: the default cul ranks a working MNIST backdoor's
	// target among its first 3 for 12 of 13 models, first for only 7.
	DefaultCandidates = 3
)

// DetectFile is the result a detect folder holds beside its images.
const DetectFile = "detect.json"

// DetectResult is what Detect found and how it scores against the truth.
type DetectResult struct {
	Run     string `json:"run"`
	Exposed string `json:"exposed,omitempty"`
	Method  string `json:"method"`
	On      string `json:"on"` // the model the detector ran on: suspect or exposed
	Arch    string `json:"model"`
	Dataset string `json:"dataset"`
	Defense int    `json:"defense_images"`
	// DefenseFrom is "drawn" (DefenseSize, DefenseSeed) or the exposed run
	// whose defense set was used.
	DefenseFrom string `json:"defense_from"`

	// The defender's answer. PredictedTarget is absent when the method
	// names none; Backdoored and Score when it decides nothing.
	PredictedTarget *int      `json:"predicted_target,omitempty"`
	Confidence      *float64  `json:"confidence,omitempty"`
	ClassShare      []float64 `json:"class_share,omitempty"`
	Backdoored      *bool     `json:"backdoored,omitempty"`
	Score           *float64  `json:"score,omitempty"`
	Threshold       *float64  `json:"threshold,omitempty"`

	NC      *NCDetection       `json:"nc,omitempty"`
	MMBD    *detect.MMBDResult `json:"mmbd,omitempty"`
	Scan    *detect.ScanResult `json:"scan,omitempty"`
	Samples *SampleDetection   `json:"samples,omitempty"`

	// The evaluator's side: the suspect's planted backdoor (absent for a
	// clean run) and whether the predicted target is its target (absent
	// for all2all, where there is no single target).
	Attack        string      `json:"attack,omitempty"`
	Mode          attack.Mode `json:"mode,omitempty"`
	TrueTarget    *int        `json:"true_target,omitempty"`
	TargetCorrect *bool       `json:"target_correct,omitempty"`

	Out     string  `json:"out,omitempty"`
	Seconds float64 `json:"seconds"`
}

// NCDetection is Neural Cleanse's part of a result.
type NCDetection struct {
	Labels   []int             `json:"labels"`
	Triggers []*detect.Trigger `json:"triggers"`
	// Anomaly is the outlier test over the labels (all or given; nil for
	// fewer than 3), Gap the test over an exposure's candidates (2 or more).
	Anomaly *detect.Anomaly      `json:"anomaly,omitempty"`
	Gap     *detect.CandidateGap `json:"gap,omitempty"`
	// LabelFrom says where the labels came from: all, given, or the
	// exposure's ranking (exposed: the exposed run's candidates; exposed
	// class share: the exposed model's shares on the defense set).
	LabelFrom string `json:"label_from"`
	// Ranking is the exposure's ranking of every label, most likely target
	// first, when the labels came from it.
	Ranking []int   `json:"ranking,omitempty"`
	Seconds float64 `json:"seconds"`
}

func (cfg *DetectConfig) check() error {
	cfg.Method = strings.ToLower(cfg.Method)
	if cfg.Method == "" {
		return fmt.Errorf("no detection method given (--method: %s)", strings.Join(detect.Names(), ", "))
	}
	if err := detect.Check(cfg.Method, cfg.Params); err != nil {
		return err
	}
	if cfg.Run == "" {
		return errors.New("no suspect run folder given (--run)")
	}
	if cfg.DefenseSize < 0 {
		return fmt.Errorf("--defense-size %d: want a positive number of images", cfg.DefenseSize)
	}
	if cfg.Samples == 0 {
		cfg.Samples = DefaultDetectSamples
	}
	if cfg.Samples < 0 {
		return fmt.Errorf("--samples %d: want a positive number of images", cfg.Samples)
	}
	if len(cfg.Labels) > 0 && cfg.Method != "nc" {
		return fmt.Errorf("--labels is for nc (trigger recovery), not %s", cfg.Method)
	}
	switch {
	case cfg.Candidates < 0:
		return fmt.Errorf("--candidates %d: want a positive number of labels", cfg.Candidates)
	case cfg.Candidates > 0 && (cfg.Method != "nc" || cfg.Exposed == "" || len(cfg.Labels) > 0):
		return errors.New("--candidates is for nc with --exposed (and without --labels)")
	}
	switch cfg.On {
	case "":
		cfg.On = "suspect"
		if cfg.Exposed != "" && cfg.Method != "nc" {
			cfg.On = "exposed"
		}
	case "suspect":
	case "exposed":
		if cfg.Exposed == "" {
			return errors.New("--on exposed needs --exposed DIR")
		}
	default:
		return fmt.Errorf("--on %q: want suspect or exposed", cfg.On)
	}
	if (cfg.Method == "label" || cfg.Method == "model") && cfg.Exposed == "" {
		// Allowed: the suspect's own prediction distribution, as a baseline.
		cfg.On = "suspect"
	}
	return nil
}

// Detect runs a detection method as cfg says. With opts.Out it also writes
// a folder holding DetectFile and, for nc, the recovered masks, patterns
// and triggers as PNG images (mask_L.png, pattern_L.png, trigger_L.png);
// the folder appears complete or not at all.
func Detect(ctx context.Context, cfg DetectConfig, opts Options) (*DetectResult, error) {
	start := time.Now()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if opts.Out != "" {
		if err := CheckOut(opts.Out, opts.Force); err != nil {
			return nil, err
		}
	}
	suspect, err := Open(cfg.Run)
	if err != nil {
		return nil, err
	}
	var exposed *Folder
	if cfg.Exposed != "" {
		if exposed, err = openExposed(cfg.Exposed, suspect); err != nil {
			return nil, err
		}
	}
	d := suspect.Manifest.Dataset
	res := &DetectResult{Run: suspect.Dir, Method: cfg.Method, On: cfg.On, Arch: suspect.Manifest.Model.Arch, Dataset: d.Name}
	if exposed != nil {
		res.Exposed = exposed.Dir
	}
	own, trig, err := suspect.Attack()
	if err != nil {
		return nil, err
	}
	if own != nil {
		res.Attack, res.Mode = own.Name, own.Mode
		if own.Mode != attack.All2All {
			t := own.Target
			res.TrueTarget = &t
		}
	}
	if detect.IsSample(cfg.Method) && trig == nil {
		return nil, fmt.Errorf("%s scores the run's triggered test images, but %s is a clean run (no backdoor planted); give a backdoored run", cfg.Method, suspect.Dir)
	}
	if n := suspect.Manifest.Model.Classes; cfg.Method == "nc" {
		seen := map[int]bool{}
		for _, l := range cfg.Labels {
			if l < 0 || l >= n {
				return nil, fmt.Errorf("--labels: label %d is not a class of the model (0..%d)", l, n-1)
			}
			if seen[l] {
				return nil, fmt.Errorf("--labels: label %d given twice", l)
			}
			seen[l] = true
		}
	}

	fullTrain, fullTest, err := suspect.Data()
	if err != nil {
		return nil, err
	}
	def, fromExposed, err := defenseSet(suspect, fullTrain, exposed, cfg.DefenseSize, cfg.DefenseSeed)
	if err != nil {
		return nil, err
	}
	res.DefenseFrom = "drawn"
	if fromExposed {
		res.DefenseFrom = exposed.Dir
	}
	if !fromExposed && cfg.DefenseSize == 0 {
		cfg.DefenseSize = DefaultDefenseSize // recorded in the manifest
	}
	res.Defense = def.Len()

	on := suspect
	if cfg.On == "exposed" {
		on = exposed
	}
	model, err := on.Model()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var files map[string][]byte
	if detect.IsSample(cfg.Method) {
		test, err := d.Test.Select(fullTest)
		if err != nil {
			return nil, err
		}
		if res.Samples, err = cfg.runSamples(ctx, opts, model, def, test, own, trig); err != nil {
			return nil, err
		}
		s := res.Samples.AUROC
		res.Score = &s
	} else if files, err = cfg.runDetector(ctx, opts, res, model, exposed, def); err != nil {
		return nil, err
	}
	if res.PredictedTarget != nil && res.TrueTarget != nil {
		ok := *res.PredictedTarget == *res.TrueTarget
		res.TargetCorrect = &ok
	}
	res.Seconds = since(start)
	if opts.Out != "" {
		if err := saveDetect(cfg, opts, suspect, res, files); err != nil {
			return nil, err
		}
		res.Out = opts.Out
	}
	return res, nil
}

// record copies a detector's answer into the result: its target, and its
// decision when it makes one.
func (res *DetectResult) record(r *detect.Result) {
	if r.Target >= 0 {
		t := r.Target
		res.PredictedTarget = &t
	}
	if r.Decides {
		b, s, th := r.Backdoored, r.Score, r.Threshold
		res.Backdoored, res.Score, res.Threshold = &b, &s, &th
	}
	res.Confidence, res.MMBD, res.Scan = r.Confidence, r.MMBD, r.Scan
	if r.ClassShare != nil {
		res.ClassShare = r.ClassShare
	}
	if res.NC != nil {
		res.NC.Triggers, res.NC.Anomaly, res.NC.Gap = r.Triggers, r.Anomaly, r.Gap
	}
}

func encodePNG(p report.Picture) ([]byte, error) {
	img, err := p.Image()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// saveDetect writes the detect folder: run.json (stage detect, parent the
// suspect run), DetectFile and the images.
func saveDetect(cfg DetectConfig, opts Options, suspect *Folder, res *DetectResult, files map[string][]byte) error {
	man, err := newManifest("detect", opts.Command, cfg.DefenseSeed, cfg)
	if err != nil {
		return err
	}
	if err := man.setParent(suspect); err != nil {
		return err
	}
	man.Dataset = suspect.Manifest.Dataset
	man.Model = suspect.Manifest.Model
	if res.Score != nil && !math.IsNaN(*res.Score) && !math.IsInf(*res.Score, 0) {
		man.Metrics["score"] = *res.Score
	}
	if res.Samples != nil {
		man.Metrics["auroc"] = res.Samples.AUROC
	}
	man.Seconds["total"] = res.Seconds
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if files == nil {
		files = map[string][]byte{}
	}
	files[DetectFile] = append(b, '\n')
	return Save(opts.Out, opts.Force, Contents{Manifest: man, Files: files})
}
