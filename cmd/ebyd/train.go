package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"ebyd/attack"
	"ebyd/data"
	"ebyd/internal/memlimit"
	"ebyd/internal/quote"
	"ebyd/run"
)

func newTrainCmd(g *globals) *cobra.Command {
	cfg := run.DefaultTrainConfig()
	var out string
	var force, resume bool
	var tf triggerFlags
	var bd run.AttackConfig
	var mode string
	c := &cobra.Command{
		Use:   "train",
		Short: "Train a model and write its run folder",
		Long: `Train a model from scratch on a dataset, measure its clean test accuracy
(CA: top-1 accuracy on the clean test split) and write a run folder with
run.json and model.safetensors.

The defaults (Adam, lr 1e-3 with cosine annealing, batch 16) train the
PyTorch-examples MNIST network to about 98.7% test accuracy in one epoch.

With --attack, the run plants a backdoor: a seeded share of the training
images (--poison-rate) gets the trigger and the label of --mode, and the run
also measures the attack success rate (ASR: the share of triggered test images
whose true label is not the target that the model classifies as the target;
all2all: as y+1 mod K). run.json records every trigger parameter and
poison_indices.json the poisoned images, so the run can be repeated exactly.

Training writes a checkpoint at the end of every epoch into OUT.ckpt, beside
the run folder (the model's weights and buffers, the optimizer's state, the
dropout generators' state, the epochs done), and removes it once the run
folder is saved. If the run is killed, the same command with --resume
continues after the last finished epoch and gives the weights an
uninterrupted run would (bit for bit, with the same GOMAXPROCS); it refuses
a checkpoint made with other settings, naming the first that differs. A run
without --resume that finds a checkpoint says so and starts afresh: it
replaces the checkpoint at the end of its own first epoch. Attacks that learn
their trigger with the model (iad) cannot resume.`,
		Example: `  ebyd train --dataset mnist --model mnistnet --epochs 1 --out runs/clean
  ebyd train --attack badnets --target 0 --poison-rate 0.1 --out runs/badnets
  ebyd train --attack blend --alpha 0.2 --target 3 --out runs/blend-t3
  ebyd train --attack wanet --trigger-param k=4 --trigger-param s=0.5 --mode all2all
  ebyd train --trigger-pattern star.png --trigger-mask star-mask.png --target 7
  ebyd train --dataset fashion-mnist --model resnet18 --width 16 --epochs 5 --optimizer sgd --lr 0.05
  ebyd train --dataset fashion-mnist --model resnet18 --width 16 --epochs 5 --optimizer sgd --lr 0.05 --resume`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			params, err := tf.json()
			if err != nil {
				return err
			}
			if c.Flags().Changed("poison-rate") && !(bd.Rate > 0 && bd.Rate <= 1) {
				return usageError{fmt.Errorf("--poison-rate %g: must be in (0, 1]", bd.Rate)}
			}
			if name := tf.name(); name != "" {
				bd.Name, bd.Params, bd.Mode = name, params, attack.Mode(mode)
				cfg.Attack = &bd
			} else if c.Flags().Changed("target") || c.Flags().Changed("poison-rate") || c.Flags().Changed("mode") {
				return usageError{fmt.Errorf("--target, --poison-rate and --mode need --attack")}
			}
			if resume && out == "" {
				return usageError{fmt.Errorf("--resume needs --out: the run folder of the interrupted run")}
			}
			if out == "" {
				name := fmt.Sprintf("train-%s-%s", cfg.Dataset, cfg.Model)
				if cfg.Attack != nil {
					name += "-" + cfg.Attack.Name
				}
				if out, err = run.DefaultOut(name); err != nil {
					return err
				}
			}
			opts := options(c, g, out, force)
			opts.Resume = resume
			res, err := run.Train(c.Context(), cfg, opts)
			if err != nil {
				return err
			}
			return reportRun(c, g, res)
		},
	}
	f := c.Flags()
	trainFlags(f, &cfg)
	tf.register(f, "plant a backdoor with this attack")
	f.IntVar(&bd.Target, "target", 0, "backdoor target label (all2one, clean-label)")
	f.Float64Var(&bd.Rate, "poison-rate", 0, fmt.Sprintf("share of the training set that is poisoned, in (0, 1] (0: %g; clean-label: half the target class)", run.DefaultPoisonRate))
	f.StringVar(&mode, "mode", "", "poisoning: all2one (relabel to --target), all2all (y→y+1 mod K) or clean-label (trigger target-class images only); default all2one, clean-label for cl")
	f.StringVar(&out, "out", "", "run folder to write; its parent must exist (default: a new folder runs/train-DATASET-MODEL[-N])")
	f.BoolVar(&force, "force", false, "replace an existing run folder at --out")
	f.BoolVar(&resume, "resume", false, "continue the interrupted run of the same command from its checkpoint OUT.ckpt (needs --out)")
	return c
}

// trainFlags registers the flags of a training recipe, shared by train and
// bench attacks.
func trainFlags(f *pflag.FlagSet, cfg *run.TrainConfig) {
	f.StringVar(&cfg.Dataset, "dataset", cfg.Dataset, "dataset: "+strings.Join(data.Names(), ", ")+" (cifar10 and imagefolder need --data-dir)")
	f.Var(augmentFlag{&cfg.Augment}, "augment", "training augmentation: default (crop=4,flip for cifar10 and imagefolder, none for digits), none, or a list such as crop=4,flip")
	f.StringVar(&cfg.DataDir, "data-dir", "", "read the dataset's files from this directory instead of the default location")
	f.StringVar(&cfg.Model, "model", cfg.Model, "architecture: mnistnet, resnet18, preactresnet18, vgg16 or mobilenetv2 (or torchvision's resnet18-tv, vgg16-tv, vgg16bn-tv, mobilenetv2-tv)")
	f.IntVar(&cfg.Width, "width", 0, "channels of the first layer, every later layer scales with it (0: the architecture's default, 32 for mnistnet, 64 for the ResNets); refused when the parameters pass "+memlimit.Help)
	f.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, fmt.Sprintf("passes over the training set (at most %d steps in all, epochs × steps per epoch)", run.MaxTrainSteps))
	f.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "images per training step")
	f.StringVar(&cfg.Optimizer, "optimizer", cfg.Optimizer, "adam or sgd")
	f.Float64Var(&cfg.LR, "lr", 0, fmt.Sprintf("learning rate (0: %g for adam, %g for sgd)", run.DefaultLR("adam"), run.DefaultLR("sgd")))
	f.StringVar(&cfg.Schedule, "schedule", cfg.Schedule, "learning-rate schedule: cosine (annealed to 0 step by step over the run) or constant")
	f.Float64Var(&cfg.Momentum, "momentum", cfg.Momentum, "SGD momentum")
	f.Float64Var(&cfg.WeightDecay, "weight-decay", cfg.WeightDecay, "L2 weight decay")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of initialisation, shuffling, dropout and subsets: the same seed and GOMAXPROCS give identical weights")
	f.IntVar(&cfg.TrainSubset, "train-subset", 0, "train on a seeded random subset of this many images (0: all)")
	f.IntVar(&cfg.TestSubset, "test-subset", 0, "evaluate on a seeded random subset of this many test images (0: all)")
	f.IntVar(&cfg.EvalBatch, "eval-batch", cfg.EvalBatch, "images per evaluation batch")
}

// reportRun prints the result of a stage that wrote a run folder.
func reportRun(c *cobra.Command, g *globals, res *run.Result) error {
	m := res.Manifest
	d, mi := m.Dataset, m.Model
	trainPart := "" // an imported model was not trained here
	if d.Train.Used > 0 {
		trainPart = fmt.Sprintf("train %d of %d, ", d.Train.Used, d.Train.Total)
	}
	rows := []row{
		{"run", res.Dir},
		{"stage", m.Stage},
		{"dataset", fmt.Sprintf("%s (%d×%d×%d, %stest %d of %d)", d.Name, d.Channels, d.Height, d.Width, trainPart, d.Test.Used, d.Test.Total)},
		{"model", fmt.Sprintf("%s (width %d, %d→%d classes, %d params)", mi.Arch, mi.Width, mi.InChannels, mi.Classes, mi.Params)},
	}
	obj := map[string]any{
		"run": res.Dir, "stage": m.Stage, "dataset": d.Name, "model": mi.Arch, "width": mi.Width,
		"in_channels": mi.InChannels, "classes": mi.Classes, "params": mi.Params,
		"clean_acc": m.Metrics["clean_acc"], "seconds": m.Seconds["total"],
	}
	if m.Stage == "train" {
		var cfg run.TrainConfig
		if err := unmarshal(m.Config, &cfg); err != nil {
			return err
		}
		rows = append(rows,
			row{"training", fmt.Sprintf("%d epoch(s), %s lr %g (%s), batch %d, seed %d", cfg.Epochs, cfg.Optimizer, cfg.LR, cfg.Schedule, cfg.BatchSize, cfg.Seed)},
			row{"train loss", fmt.Sprintf("%.4f (last epoch)", m.Metrics["train_loss"])},
			row{"train acc", pct(m.Metrics["train_acc"]) + " (last epoch)"},
			row{"median step", fmt.Sprintf("%.3f s", m.Seconds["median_step"])})
		obj["epochs"] = cfg.Epochs
		obj["seed"] = cfg.Seed
		obj["train_loss"] = m.Metrics["train_loss"]
		obj["train_acc"] = m.Metrics["train_acc"]
		obj["median_step_s"] = m.Seconds["median_step"]
		if a := cfg.Attack; a != nil {
			target := fmt.Sprintf("target %d", a.Target)
			if a.Mode == attack.All2All {
				target = "y → y+1 mod K"
			}
			images := fmt.Sprintf("%d images", int(m.Metrics["poisoned"]))
			if _, ok := m.Metrics["poisoned"]; !ok {
				images = "of every batch: a learned trigger"
			}
			rows = append(rows,
				row{"attack", fmt.Sprintf("%s, %s, %s, poison rate %g (%s)", a.Name, a.Mode, target, a.Rate, images)})
			obj["attack"], obj["mode"], obj["target"], obj["poison_rate"] = a.Name, a.Mode, a.Target, a.Rate
			obj["asr"] = m.Metrics["asr"]
		}
	} else {
		rows = append(rows, row{"normalisation", fmt.Sprintf("mean %v, std %v", d.Mean, d.Std)})
		obj["mean"], obj["std"] = d.Mean, d.Std
	}
	rows = append(rows, row{"clean acc", pct(m.Metrics["clean_acc"])})
	if asr, ok := m.Metrics["asr"]; ok {
		rows = append(rows, row{"ASR", pct(asr)})
	}
	rows = append(rows,
		row{"time", dur(m.Seconds["total"])},
		row{"engine", fmt.Sprintf("%s BLAS, %s convolutions, GOMAXPROCS %d", m.Engine.BLAS, m.Engine.Conv, m.Engine.GOMAXPROCS)})
	return report(c, g, rows, obj)
}

// augmentFlag parses --augment into a data.Augment (nil: the dataset's
// default).
type augmentFlag struct{ a **data.Augment }

func (f augmentFlag) String() string {
	if f.a == nil || *f.a == nil {
		return "default"
	}
	return (*f.a).String()
}

func (augmentFlag) Type() string { return "list" }

func (f augmentFlag) Set(v string) error {
	switch v {
	case "default":
		*f.a = nil
		return nil
	case "none":
		*f.a = &data.Augment{}
		return nil
	}
	var a data.Augment
	for _, part := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "flip":
			a.Flip = true
		case "crop":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return fmt.Errorf("crop=%s: want a positive padding in pixels, e.g. crop=4", quote.Name(val))
			}
			a.CropPad = n
		default:
			return fmt.Errorf("%q: want default, none, or a list of crop=N and flip", part)
		}
	}
	*f.a = &a
	return nil
}
