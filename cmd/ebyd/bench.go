package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ebyd/internal/memlimit"
	"ebyd/run"
)

func newBenchCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure speed",
		Args:  noArgs,
	}
	c.AddCommand(newBenchEngineCmd(g), newBenchAttacksCmd(g), newBenchDetectionCmd(g), newBenchRemovalCmd(g))
	return c
}

func newBenchEngineCmd(g *globals) *cobra.Command {
	cfg := run.DefaultBenchConfig()
	c := &cobra.Command{
		Use:   "engine",
		Short: "Time training steps of one model, like bench/torch_reference.py",
		Long: `Time the engine on one model with a seeded random batch (1×28×28 images
for mnistnet, 3×32×32 for the others, 10 classes) and SGD (lr 0.01, momentum
0.9, weight decay 5e-4). In train mode each timed step is zero_grad, forward,
cross-entropy, backward and the optimizer step; in eval mode a forward pass
without gradients. Reports median and minimum step seconds, images/s, peak
RSS and effective GFLOP/s: 2 FLOPs per multiply-add of the Conv2d and Linear
layers, 3 passes per training step.

Compare with PyTorch on the same machine:
  THREADS=2 python3 bench/torch_reference.py smallcnn 128 train 5`,
		Example: `  ebyd bench engine --model mnistnet --batch 128 --steps 5 --json
  ebyd bench engine --model preactresnet18 --batch 32 --steps 5`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			res, err := run.Bench(c.Context(), cfg, options(c, g, "", false))
			if err != nil {
				return err
			}
			rows := []row{
				{"model", fmt.Sprintf("%s (width %d, %d params)", res.Model, res.Width, res.Params)},
				{"input", fmt.Sprintf("%v, %s mode, %d steps after %d warm-up", res.Input, res.Mode, res.Steps, res.Warmup)},
				{"median step", fmt.Sprintf("%.4f s (min %.4f s)", res.MedianStep, res.MinStep)},
				{"throughput", fmt.Sprintf("%.1f images/s", res.ImagesPerSec)},
				{"compute", fmt.Sprintf("%.2f GFLOP/s (%.3f GFLOP per step)", res.GFLOPS, res.StepFLOPs/1e9)},
				{"peak RSS", fmt.Sprintf("%.0f MiB", res.PeakRSSMiB)},
				{"engine", fmt.Sprintf("%s BLAS, %s convolutions, GOMAXPROCS %d", res.BLAS, res.Conv, res.GOMAXPROCS)},
			}
			return report(c, g, rows, res)
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Model, "model", cfg.Model, "mnistnet, resnet18, preactresnet18, vgg16 or mobilenetv2")
	f.IntVar(&cfg.Width, "width", 0, "channels of the first layer (0: the architecture's default); refused when the parameters pass "+memlimit.Help)
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "images per step")
	f.IntVar(&cfg.Steps, "steps", cfg.Steps, "timed steps")
	f.IntVar(&cfg.Warmup, "warmup", cfg.Warmup, "untimed steps before timing")
	f.StringVar(&cfg.Mode, "mode", cfg.Mode, "train or eval")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the weights and the random batch")
	return c
}
