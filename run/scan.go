package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"ebyd/internal/atomicfile"
)

// ScanConfig is one scan: a verdict on a model the user brings, as a run
// folder or as weights to import first.
type ScanConfig struct {
	Run    string        `json:"run,omitempty"`
	Import *ImportConfig `json:"import,omitempty"`
	// The defense set: DefenseSize (0: DefaultDefenseSize) clean training
	// images drawn with DefenseSeed.
	DefenseSize int    `json:"defense_size"`
	DefenseSeed uint64 `json:"defense_seed"`
	// Params overrides detect.Scan's parameters (JSON).
	Params json.RawMessage `json:"params,omitempty"`
}

// The folders a scan writes under its output folder.
const (
	ScanSuspect = "suspect" // the imported run, when weights were given
	ScanDetect  = "detect"  // the detection, with the recovered triggers
	ScanFile    = "scan.json"
)

// ScanResult is a scan's answer.
type ScanResult struct {
	Suspect string        `json:"suspect"`
	Detect  *DetectResult `json:"detect"`
	// Trigger is the recovered trigger of the target as a PNG file ("" when
	// there is none).
	Trigger string  `json:"trigger,omitempty"`
	Seconds float64 `json:"seconds"`
}

// Scan gives the shipped verdict (detect.Scan) on a model: it imports the
// weights when given, then runs the detection on the suspect's own model
// with DefenseSize clean training images. opts.Out is a new folder holding
// ScanSuspect and ScanDetect; it is removed again when the scan fails.
func Scan(ctx context.Context, cfg ScanConfig, opts Options) (*ScanResult, error) {
	start := time.Now()
	if (cfg.Run == "") == (cfg.Import == nil) {
		return nil, errors.New("scan: give either a run folder (--run) or weights to import (--weights)")
	}
	// An earlier scan's folder (it holds ScanFile) may be replaced.
	if _, err := os.Stat(filepath.Join(opts.Out, ScanFile)); err != nil || !opts.Force {
		if err := CheckOut(opts.Out, opts.Force); err != nil {
			return nil, err
		}
	}
	if opts.Force {
		if err := os.RemoveAll(opts.Out); err != nil {
			return nil, err
		}
	}
	if err := os.Mkdir(opts.Out, 0o755); err != nil {
		return nil, err
	}
	res, err := scan(ctx, cfg, opts)
	if err == nil {
		res.Seconds = since(start)
		var b []byte
		if b, err = json.MarshalIndent(res, "", "  "); err == nil {
			err = atomicfile.WriteFile(filepath.Join(opts.Out, ScanFile), append(b, '\n'))
		}
	}
	if err != nil {
		os.RemoveAll(opts.Out)
		return nil, err
	}
	return res, nil
}

func scan(ctx context.Context, cfg ScanConfig, opts Options) (*ScanResult, error) {
	suspect := cfg.Run
	if cfg.Import != nil {
		o := opts
		o.Out, o.Force = filepath.Join(opts.Out, ScanSuspect), false
		r, err := Import(ctx, *cfg.Import, o)
		if err != nil {
			return nil, err
		}
		suspect = r.Dir
	}
	o := opts
	o.Out, o.Force = filepath.Join(opts.Out, ScanDetect), false
	det, err := Detect(ctx, DetectConfig{Run: suspect, Method: "scan", DefenseSize: cfg.DefenseSize, DefenseSeed: cfg.DefenseSeed, Params: cfg.Params}, o)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	res := &ScanResult{Suspect: suspect, Detect: det}
	if det.PredictedTarget != nil {
		p := filepath.Join(det.Out, fmt.Sprintf("trigger_%d.png", *det.PredictedTarget))
		if _, err := os.Stat(p); err == nil {
			res.Trigger = p
		}
	}
	return res, nil
}
