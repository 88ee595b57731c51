package run

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"ebyd/checkpoint"
	"ebyd/data"
	"ebyd/fit"
	"ebyd/internal/quote"
	"ebyd/internal/userfile"
	"ebyd/models"
	"ebyd/nn"
)

// ImportConfig describes a PyTorch model brought into ebyd.
type ImportConfig struct {
	// Arch is an architecture of the zoo, or "auto": the one whose
	// state_dict names the weights have (after Rename).
	Arch    string `json:"arch"`
	Weights string `json:"weights"` // .pt/.pth or .safetensors holding a state_dict
	// Rename rewrites name prefixes before the names are matched, each
	// "OLD=NEW" (e.g. "classifier.=fc2."): a name is rewritten by the first
	// mapping whose OLD it starts with. A mapping no name starts with is an
	// error.
	Rename []string `json:"rename,omitempty"`
	// WeightsSHA256 identifies the file imported; filled in by Import.
	WeightsSHA256 string `json:"weights_sha256,omitempty"`
	Dataset       string `json:"dataset"`
	DataDir       string `json:"data_dir,omitempty"`
	// Mean and Std override the dataset's normalisation (nil: keep it):
	// the values the model was trained with, one per channel or one for all.
	Mean       []float32 `json:"mean"`
	Std        []float32 `json:"std"`
	TestSubset int       `json:"test_subset,omitempty"`
	EvalBatch  int       `json:"eval_batch"`
}

// Import loads a PyTorch state_dict for a zoo architecture, reading the
// model's input channels, classes and width from the weights' shapes,
// checks them against the dataset, measures clean test accuracy and writes
// a run folder that later stages use like a trained one.
func Import(ctx context.Context, cfg ImportConfig, opts Options) (*Result, error) {
	start := time.Now()
	auto := strings.EqualFold(cfg.Arch, "auto")
	if !auto {
		spec, err := models.Lookup(cfg.Arch)
		if err != nil {
			return nil, err
		}
		cfg.Arch = spec.Name
	}
	renames, err := parseRenames(cfg.Rename)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(data.Names(), cfg.Dataset) {
		return nil, fmt.Errorf("unknown dataset %q (known: %s)", cfg.Dataset, strings.Join(data.Names(), ", "))
	}
	if cfg.Weights == "" {
		return nil, fmt.Errorf("no weights file given (--weights)")
	}
	// A named pipe would block the read forever: refuse it before any work.
	var notRegular *userfile.NotRegularError
	if err := userfile.Check(cfg.Weights); errors.As(err, &notRegular) {
		return nil, fmt.Errorf("--weights: %w", err)
	}
	if cfg.EvalBatch == 0 {
		cfg.EvalBatch = DefaultEvalBatch
	}
	if cfg.TestSubset < 0 || cfg.EvalBatch < 0 {
		return nil, fmt.Errorf("--test-subset and the eval batch must not be negative")
	}
	if err := CheckOut(opts.Out, opts.Force); err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(cfg.Weights); err == nil {
		cfg.Weights = abs
	}

	t := time.Now()
	sd, err := checkpoint.Load(cfg.Weights)
	if err != nil {
		return nil, err
	}
	if cfg.WeightsSHA256, err = fileSHA256(cfg.Weights); err != nil {
		return nil, err
	}
	if err := checkFinite(sd); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Weights, err)
	}
	if sd, err = applyRenames(sd, renames); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Weights, err)
	}
	if auto {
		if cfg.Arch = guessArch(sd); cfg.Arch == "" {
			return nil, fmt.Errorf("%s: --arch auto: the names are not those of any architecture of the zoo (%s)%s",
				cfg.Weights, strings.Join(models.Names(), ", "), renameHint("", sd))
		}
	}
	loadWeights := since(t)

	t = time.Now()
	train, fullTest, err := loadData(cfg.Dataset, cfg.DataDir, cfg.Mean, cfg.Std)
	if err != nil {
		return nil, err
	}
	cfg.Mean, cfg.Std = train.Mean, train.Std
	test, testSplit, err := subset(fullTest, cfg.TestSubset, 0, "test")
	if err != nil {
		return nil, err
	}
	loadDataSeconds := since(t)

	mi, err := inferModel(cfg.Arch, sd)
	if err != nil {
		return nil, err
	}
	switch {
	case mi.InChannels != train.C:
		return nil, fmt.Errorf("the weights take %d-channel images (%s has shape %v) but %s images have %d channel(s)",
			mi.InChannels, archKeys[cfg.Arch].first, shapeOf(sd, archKeys[cfg.Arch].first), cfg.Dataset, train.C)
	case mi.Classes != train.Classes:
		return nil, fmt.Errorf("the weights classify into %d classes (%s has shape %v) but %s has %d",
			mi.Classes, archKeys[cfg.Arch].last, shapeOf(sd, archKeys[cfg.Arch].last), cfg.Dataset, train.Classes)
	case train.H != train.W:
		return nil, fmt.Errorf("%s images are %d×%d; the models need square images", cfg.Dataset, train.H, train.W)
	}
	mi.InputSize = train.H
	if err := checkHoldsModel(mi, sd); err != nil {
		return nil, fmt.Errorf("%s: %w%s", cfg.Weights, err, guessSuffix(cfg.Arch, sd))
	}
	model, err := mi.Build()
	if err != nil {
		return nil, err
	}
	if err := LoadStateDict(model, sd); err != nil {
		return nil, fmt.Errorf("the weights do not fit a %s for %d×%d×%d %s images: %w%s",
			cfg.Arch, mi.InChannels, mi.InputSize, mi.InputSize, cfg.Dataset, err, guessSuffix(cfg.Arch, sd))
	}
	mi.Params = countParams(model)
	nn.SetTraining(model, false)

	man, err := newManifest("import", opts.Command, 0, cfg)
	if err != nil {
		return nil, err
	}
	man.Model = mi
	man.Dataset = datasetInfo(train, cfg.DataDir, Split{Total: train.N, Used: 0}, testSplit)
	man.Seconds["load_weights"] = loadWeights
	man.Seconds["load_data"] = loadDataSeconds

	t = time.Now()
	prog := opts.progress("eval", 1)
	acc, err := fit.Accuracy(model, test, cfg.EvalBatch)
	if err != nil {
		return nil, err
	}
	prog.Done(fmt.Sprintf("clean acc %.2f%%", 100*acc))
	man.Metrics["clean_acc"] = acc
	man.Seconds["eval"] = since(t)
	man.Seconds["total"] = since(start)
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	if err := Save(opts.Out, opts.Force, Contents{Manifest: man, Model: model}); err != nil {
		return nil, err
	}
	return &Result{Dir: opts.Out, Manifest: man}, nil
}

// rename is one --rename mapping: names starting with old start with new.
type rename struct{ old, new string }

func parseRenames(specs []string) ([]rename, error) {
	var out []rename
	for _, s := range specs {
		old, new, ok := strings.Cut(s, "=")
		if !ok || old == "" {
			return nil, fmt.Errorf("--rename %s: want OLD=NEW, a prefix of the file's names and its replacement (e.g. classifier.=fc2.)", quote.Name(s))
		}
		out = append(out, rename{old, new})
	}
	return out, nil
}

// applyRenames rewrites sd's names by the first mapping whose prefix each
// starts with. A mapping that matches no name, or two names that end up
// the same, is an error.
func applyRenames(sd *checkpoint.StateDict, renames []rename) (*checkpoint.StateDict, error) {
	if len(renames) == 0 {
		return sd, nil
	}
	used := make([]bool, len(renames))
	out := &checkpoint.StateDict{}
	from := map[string]string{}
	for _, e := range sd.Entries {
		name := e.Name
		for i, r := range renames {
			if strings.HasPrefix(name, r.old) {
				name, used[i] = r.new+strings.TrimPrefix(name, r.old), true
				break
			}
		}
		if prev, dup := from[name]; dup {
			return nil, fmt.Errorf("--rename makes %s and %s both %s", quote.Name(prev), quote.Name(e.Name), quote.Name(name))
		}
		from[name] = e.Name
		out.Entries = append(out.Entries, checkpoint.Entry{Name: name, DType: e.DType, Tensor: e.Tensor})
	}
	for i, r := range renames {
		if !used[i] {
			return nil, fmt.Errorf("--rename %s: no name in the file starts with %s (or an earlier mapping took them)%s",
				quote.Name(r.old+"="+r.new), quote.Name(r.old), fileNames(sd))
		}
	}
	return out, nil
}

// guessSuffix points at the right architecture when the names say the
// weights are another one.
func guessSuffix(arch string, sd *checkpoint.StateDict) string {
	if guess := guessArch(sd); guess != "" && guess != arch {
		return fmt.Sprintf(" (the names look like a %s: try --arch %s)", guess, guess)
	}
	return ""
}

// shapeOf is the shape of a tensor known to be in sd.
func shapeOf(sd *checkpoint.StateDict, name string) []int {
	t, _ := sd.Get(name)
	return t.Shape
}

func fileSHA256(path string) (string, error) {
	f, err := userfile.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkHoldsModel refuses weights that hold fewer values than the model
// they describe has parameters, before it is built: two small tensors can
// state the width of a network of gigabytes. (A model too large for the
// memory limit is refused by models.New.)
func checkHoldsModel(mi ModelInfo, sd *checkpoint.StateDict) error {
	need, err := models.ParamCount(mi.Arch, mi.Config())
	if err != nil {
		return err
	}
	var have float64
	for _, e := range sd.Entries {
		have += float64(len(e.Tensor.Data))
	}
	if have < need {
		return fmt.Errorf("the weights hold %.0f values, but the %s they describe (width %d, %d input channels, %d classes, %d×%d images) has %.0f parameters: they are not its complete state_dict",
			have, mi.Arch, mi.Width, mi.InChannels, mi.Classes, mi.InputSize, mi.InputSize, need)
	}
	return nil
}
