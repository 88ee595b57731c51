package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"ebyd/internal/userfile"
)

// Chain is EBYD's defence of one suspect run, its stages in their one
// order: expose the suspect's model, then decide on the suspect whether it
// is backdoored and name the target with its trigger (Decision), then
// remove the backdoor with the exposed model and the recovered trigger.
// ebyd pipeline and the detection and removal benchmarks all run it. Each
// stage writes a run folder under Dir: ChainExposed, ChainDetect, and the
// removal's own.
type Chain struct {
	Suspect string // the suspect run folder
	Dir     string
	Expose  Method // "" method: expose.Default
	// Decision is DecisionScan ("" too), the verdict of ebyd scan, or
	// DecisionGap, Neural Cleanse over the exposure's first Candidates
	// labels decided by their gap.
	Decision string
	// Candidates is how many of the exposure's labels get a trigger (0:
	// DefaultCandidates); NC overrides Neural Cleanse's parameters.
	Candidates int
	NC         json.RawMessage
	// The defense set every stage shares: DefenseSize clean training
	// images (0: DefaultDefenseSize) drawn with DefenseSeed.
	DefenseSize int
	DefenseSeed uint64
	// Reuse keeps the exposure and detection a folder already holds, so
	// that an interrupted benchmark resumes; otherwise they run again.
	Reuse bool
	// Stage, when set, hears of each stage that starts: expose, detect,
	// remove.
	Stage func(name string)
}

func (c *Chain) stage(name string) {
	if c.Stage != nil {
		c.Stage(name)
	}
}

// A Chain's decisions.
const (
	DecisionScan = "scan"
	DecisionGap  = "gap"
)

// The run folders a chain writes under its Dir.
const (
	ChainExposed = "exposed"
	ChainDetect  = "detect"
)

// Exposed is the exposure's run folder.
func (c *Chain) Exposed() string { return filepath.Join(c.Dir, ChainExposed) }

// Detected is the detection's folder, which holds the recovered triggers.
func (c *Chain) Detected() string { return filepath.Join(c.Dir, ChainDetect) }

// Detect runs the exposure and the targeted detection. The exposure's
// result is nil when Reuse kept an earlier one.
func (c *Chain) Detect(ctx context.Context, opts Options) (*ExposeResult, *DetectResult, error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, nil, err
	}
	var ex *ExposeResult
	if _, err := Open(c.Exposed()); err != nil || !c.Reuse {
		c.stage("expose")
		cfg := ExposeConfig{Run: c.Suspect, Method: c.Expose.Name, Params: c.Expose.Params, DefenseSize: c.DefenseSize, Seed: c.DefenseSeed}
		if ex, err = Expose(ctx, cfg, c.sub(opts, ChainExposed)); err != nil {
			return nil, nil, fmt.Errorf("expose: %w", err)
		}
	}
	// A fresh exposure needs a fresh detection.
	if det, err := c.detected(); err == nil && c.Reuse && ex == nil {
		return ex, det, nil
	}
	c.stage("detect")
	cfg := DetectConfig{Run: c.Suspect, Exposed: c.Exposed(), Method: "nc", Candidates: c.Candidates, Params: c.NC}
	switch c.Decision {
	case "", DecisionScan:
		// Every label on the suspect, with the exposure's defense images.
		cfg = DetectConfig{Run: c.Suspect, Exposed: c.Exposed(), On: "suspect", Method: "scan", Params: c.NC}
	case DecisionGap:
	default:
		return nil, nil, fmt.Errorf("unknown decision %q (known: %s, %s)", c.Decision, DecisionScan, DecisionGap)
	}
	det, err := Detect(ctx, cfg, c.sub(opts, ChainDetect))
	if err != nil {
		return nil, nil, fmt.Errorf("detect: %w", err)
	}
	if det.PredictedTarget == nil {
		return nil, nil, errors.New("detect: no target named")
	}
	return ex, det, nil
}

// Done reports whether the folder holds a finished exposure and detection.
func (c *Chain) Done() error {
	if _, err := Open(c.Exposed()); err != nil {
		return err
	}
	_, err := c.detected()
	return err
}

// detected reads back a finished detection.
func (c *Chain) detected() (*DetectResult, error) {
	if _, err := Open(c.Detected()); err != nil {
		return nil, err
	}
	b, err := userfile.ReadFile(filepath.Join(c.Detected(), DetectFile))
	if err != nil {
		return nil, err
	}
	var det DetectResult
	if err := json.Unmarshal(b, &det); err != nil || det.PredictedTarget == nil {
		return nil, fmt.Errorf("%s: no predicted target (%v)", c.Detected(), err)
	}
	return &det, nil
}

// Remove removes the backdoor after Detect, with the exposed model and the
// recovered trigger, into the run folder out.
func (c *Chain) Remove(ctx context.Context, m Method, out string, opts Options) (*RemoveResult, error) {
	c.stage("remove")
	o := opts
	o.Out, o.Force = out, true
	rm, err := Remove(ctx, RemoveConfig{Run: c.Suspect, Exposed: c.Exposed(), Trigger: c.Detected(), Method: m.Name, Params: m.Params}, o)
	if err != nil {
		return nil, fmt.Errorf("remove: %w", err)
	}
	return rm, nil
}

func (c *Chain) sub(opts Options, name string) Options {
	o := opts
	o.Out, o.Force = filepath.Join(c.Dir, name), true
	return o
}
