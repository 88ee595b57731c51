package run

import (
	"encoding/json"
	"fmt"
	"time"

	"ebyd/data"
	"ebyd/models"
	"ebyd/nn"
)

// ManifestFormat identifies the layout of run.json; it changes only when an
// older reader could no longer understand the file.
const ManifestFormat = "ebyd-run/1"

// Manifest is run.json: what a stage did, with what, and how well.
type Manifest struct {
	Format  string   `json:"format"`
	Tool    string   `json:"tool"`  // "ebyd " + Version
	Stage   string   `json:"stage"` // train, import, ...
	Command []string `json:"command"`
	Created string   `json:"created"` // RFC 3339, UTC
	// Parent is the run folder this one was derived from, if any, as it was
	// given (relative paths to the working directory of the time), and
	// ParentModel the SHA-256 of its model file then: the parent is still
	// recognised after the folders move or from another directory.
	Parent      string `json:"parent,omitempty"`
	ParentModel string `json:"parent_model_sha256,omitempty"`
	Seed        uint64 `json:"seed"`
	// Config is the stage's full configuration (TrainConfig, ImportConfig,
	// ...) with every default filled in.
	Config  json.RawMessage    `json:"config"`
	Dataset DatasetInfo        `json:"dataset"`
	Model   ModelInfo          `json:"model"`
	Metrics map[string]float64 `json:"metrics"` // clean_acc, ... (fractions in [0, 1])
	Seconds map[string]float64 `json:"seconds"` // wall time per part of the stage, and "total"
	Engine  Engine             `json:"engine"`
	// ResumedAfter, for a training run continued with --resume, is the
	// epochs its checkpoint had done; Seconds then count only the part
	// that this process ran.
	ResumedAfter int `json:"resumed_after_epochs,omitempty"`
}

// DatasetInfo records the data a stage used and how it was normalised.
type DatasetInfo struct {
	Name string `json:"name"`
	Dir  string `json:"dir,omitempty"` // "" for the default location
	// Image shape and class count.
	Channels int `json:"channels"`
	Height   int `json:"height"`
	Width    int `json:"width"`
	Classes  int `json:"classes"`
	// Mean and Std normalise each channel on the [0, 1] scale, as
	// torchvision's Normalize.
	Mean  []float32 `json:"mean"`
	Std   []float32 `json:"std"`
	Train Split     `json:"train"`
	Test  Split     `json:"test"`
}

// Split records which images of a split were used: all of them, or the
// seeded subset data.RandomSubset(Total, Used, SubsetSeed).
type Split struct {
	Total      int     `json:"total"`
	Used       int     `json:"used"`
	SubsetSeed *uint64 `json:"subset_seed,omitempty"`
}

// Select returns the images of ds that the split used (ds being the full
// split, as Folder.Data returns it).
func (s Split) Select(ds *data.Dataset) (*data.Dataset, error) {
	if ds.N != s.Total {
		return nil, fmt.Errorf("the split had %d images, the dataset now has %d", s.Total, ds.N)
	}
	if s.SubsetSeed == nil || s.Used >= s.Total {
		return ds, nil
	}
	return ds.Subset(data.RandomSubset(ds.N, s.Used, *s.SubsetSeed)), nil
}

// ModelInfo is what it takes to rebuild a run's network before loading its
// weights.
type ModelInfo struct {
	Arch       string `json:"arch"`
	InChannels int    `json:"in_channels"`
	Classes    int    `json:"classes"`
	InputSize  int    `json:"input_size"`
	Width      int    `json:"width"`
	InitSeed   uint64 `json:"init_seed"`
	// NoFinalBN marks a preactresnet18 without the BatchNorm before its
	// pooling (BackdoorBench's definition).
	NoFinalBN bool `json:"no_final_bn,omitempty"`
	Params    int  `json:"params"` // trainable scalars, for people reading the manifest
}

// Config is the models.Config that rebuilds the network.
func (mi ModelInfo) Config() models.Config {
	return models.Config{InChannels: mi.InChannels, NumClasses: mi.Classes, InputSize: mi.InputSize, Width: mi.Width, Seed: mi.InitSeed, NoFinalBN: mi.NoFinalBN}
}

// Build makes a freshly initialised network of this shape.
func (mi ModelInfo) Build() (nn.Module, error) {
	return models.New(mi.Arch, mi.Config())
}

// newManifest starts a manifest for a stage run now by this process.
func newManifest(stage string, command []string, seed uint64, config any) (*Manifest, error) {
	raw, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("run: encoding the %s config: %w", stage, err)
	}
	return &Manifest{
		Format:  ManifestFormat,
		Tool:    "ebyd " + Version,
		Stage:   stage,
		Command: command,
		Created: time.Now().UTC().Format(time.RFC3339),
		Seed:    seed,
		Config:  raw,
		Metrics: map[string]float64{},
		Seconds: map[string]float64{},
		Engine:  CurrentEngine(),
	}, nil
}

// validate checks what later stages rely on, so that a hand-edited or
// foreign run.json fails with a message rather than a crash.
func (m *Manifest) validate() error {
	switch {
	case m.Format != ManifestFormat:
		return fmt.Errorf("format %q, this ebyd reads %q", m.Format, ManifestFormat)
	case m.Model.Arch == "":
		return fmt.Errorf("no model.arch")
	case m.Model.InChannels < 1 || m.Model.Classes < 2 || m.Model.InputSize < 1 || m.Model.Width < 1:
		return fmt.Errorf("model %+v has non-positive sizes", m.Model)
	case m.Dataset.Name == "":
		return fmt.Errorf("no dataset.name")
	case len(m.Dataset.Mean) != len(m.Dataset.Std):
		return fmt.Errorf("dataset has %d means and %d stds", len(m.Dataset.Mean), len(m.Dataset.Std))
	}
	if _, err := models.Lookup(m.Model.Arch); err != nil {
		return err
	}
	return nil
}
