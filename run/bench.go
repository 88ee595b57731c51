package run

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	ag "ebyd/autograd"
	"ebyd/internal/blas"
	"ebyd/models"
	"ebyd/nn"
	"ebyd/optim"
	"ebyd/tensor"
)

// BenchConfig is an engine benchmark, the same measurement as
// bench/torch_reference.py: one model on one random batch, timed step by
// step.
type BenchConfig struct {
	Model  string `json:"model"`
	Width  int    `json:"width"` // 0: the architecture's default
	Batch  int    `json:"batch"`
	Steps  int    `json:"steps"`  // timed steps
	Warmup int    `json:"warmup"` // untimed steps first
	Mode   string `json:"mode"`   // train: zero_grad+forward+CE+backward+step; eval: no-grad forward
	Seed   uint64 `json:"seed"`
}

// DefaultBenchConfig matches the reference script's defaults.
func DefaultBenchConfig() BenchConfig {
	return BenchConfig{Model: "mnistnet", Batch: 128, Steps: 5, Warmup: 2, Mode: "train"}
}

// BenchResult is one engine benchmark's measurement.
type BenchResult struct {
	Model        string    `json:"model"`
	Width        int       `json:"width"`
	Batch        int       `json:"batch"`
	Mode         string    `json:"mode"`
	Steps        int       `json:"steps"`
	Warmup       int       `json:"warmup"`
	Input        []int     `json:"input"` // [N, C, H, W]
	Params       int       `json:"params"`
	MedianStep   float64   `json:"median_step_s"`
	MinStep      float64   `json:"min_step_s"`
	StepSeconds  []float64 `json:"step_s"`
	ImagesPerSec float64   `json:"images_per_s"`
	// ForwardMACs counts the multiply-adds of one forward pass of the
	// batch through every Conv2d and Linear layer; a training step is taken
	// as 3 forward passes (forward, input and weight gradients).
	ForwardMACs int64   `json:"forward_macs"`
	StepFLOPs   float64 `json:"step_flops"`
	GFLOPS      float64 `json:"gflops"` // StepFLOPs / MedianStep / 1e9
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	GOMAXPROCS  int     `json:"gomaxprocs"`
	BLAS        string  `json:"blas"`
	Conv        string  `json:"conv"`
	Seconds     float64 `json:"seconds"`
}

// Bench measures the engine's speed on one model (DESIGN §9): a seeded
// random batch (1×28×28 images for mnistnet, 3×32×32 otherwise) with 10
// classes, SGD (lr 0.01, momentum 0.9, weight decay 5e-4), the model in
// training mode; each timed step is zero_grad, forward, cross-entropy,
// backward and the optimizer step.
func Bench(ctx context.Context, cfg BenchConfig, opts Options) (*BenchResult, error) {
	start := time.Now()
	spec, err := models.Lookup(cfg.Model)
	if err != nil {
		return nil, err
	}
	cfg.Model = spec.Name
	if cfg.Width == 0 {
		cfg.Width = spec.DefaultWidth
	}
	switch {
	case cfg.Batch < 1:
		return nil, fmt.Errorf("--batch %d: must be at least 1", cfg.Batch)
	case cfg.Steps < 1:
		return nil, fmt.Errorf("--steps %d: must be at least 1", cfg.Steps)
	case cfg.Warmup < 0:
		return nil, fmt.Errorf("--warmup %d: must not be negative", cfg.Warmup)
	case cfg.Mode != "train" && cfg.Mode != "eval":
		return nil, fmt.Errorf("unknown mode %q (known: train, eval)", cfg.Mode)
	}
	c, size := 3, 32
	if cfg.Model == "mnistnet" {
		c, size = 1, 28
	}
	model, err := models.New(cfg.Model, models.Config{InChannels: c, NumClasses: 10, InputSize: size, Width: cfg.Width, Seed: cfg.Seed})
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0xbe7c4))
	x := tensor.New(cfg.Batch, c, size, size)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	y := make([]int, cfg.Batch)
	for i := range y {
		y[i] = r.IntN(10)
	}
	macs, err := ForwardMACs(model, x)
	if err != nil {
		return nil, err
	}

	var params []*ag.Var
	for _, p := range nn.Params(model) {
		params = append(params, p.Var)
	}
	opt := &optim.SGD{Params: params, Rate: 0.01, Momentum: 0.9, WeightDecay: 5e-4}
	arena := ag.NewArena() // as in training: see Train
	step := func() {
		if cfg.Mode == "eval" {
			ag.NoGrad(func() { model.Forward(ag.Const(x)) })
			return
		}
		optim.ZeroGrad(params)
		arena.Step(func() {
			loss := ag.CrossEntropy(model.Forward(ag.Const(x)), y)
			ag.Backward(loss)
			opt.Step()
		})
	}
	nn.SetTraining(model, cfg.Mode == "train")
	prog := opts.progress("bench "+cfg.Model, cfg.Warmup+cfg.Steps)
	var times []float64
	for i := range cfg.Warmup + cfg.Steps {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		t := time.Now()
		if err := nn.Recover(step); err != nil {
			return nil, err
		}
		if i >= cfg.Warmup {
			times = append(times, since(t))
		}
		prog.Update(i+1, "")
	}
	prog.Done("")

	res := &BenchResult{
		Model: cfg.Model, Width: cfg.Width, Batch: cfg.Batch, Mode: cfg.Mode,
		Steps: cfg.Steps, Warmup: cfg.Warmup, Input: slices.Clone(x.Shape),
		Params: countParams(model), StepSeconds: slices.Clone(times),
		ForwardMACs: macs, PeakRSSMiB: peakRSSMiB(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), BLAS: blas.Backend, Conv: convBackend(),
	}
	res.MinStep = slices.Min(times)
	res.MedianStep = median(times)
	res.ImagesPerSec = float64(cfg.Batch) / res.MedianStep
	passes := 3.0
	if cfg.Mode == "eval" {
		passes = 1
	}
	res.StepFLOPs = passes * 2 * float64(macs)
	res.GFLOPS = res.StepFLOPs / res.MedianStep / 1e9
	res.Seconds = since(start)
	return res, nil
}

// ForwardMACs counts the multiply-adds of Conv2d and Linear layers in one
// forward pass of x through m (evaluation mode, no graph, so nothing is
// trained and no BatchNorm statistic moves): for a convolution, output
// elements × in_channels/groups × kh × kw; for a dense layer, output
// elements × in_features. It uses (and then removes) output hooks on those
// layers, so call it on a model without hooks of its own there.
func ForwardMACs(m nn.Module, x *tensor.Tensor) (int64, error) {
	var total int64
	var paths []string
	nn.Walk(m, func(path string, sub nn.Module) {
		var per int64
		switch l := sub.(type) {
		case *nn.Conv2d:
			s := l.Weight.Value.Shape
			per = int64(s[1] * s[2] * s[3])
		case *nn.Linear:
			per = int64(l.Weight.Value.Shape[1])
		default:
			return
		}
		paths = append(paths, path)
		nn.SetHook(m, path, func(y *ag.Var) *ag.Var {
			total += int64(y.Value.Len()) * per
			return y
		})
	})
	defer func() {
		for _, p := range paths {
			nn.SetHook(m, p, nil)
		}
	}()
	_, err := Logits(m, x)
	return total, err
}
