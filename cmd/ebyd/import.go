package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"ebyd/data"
	"ebyd/run"
)

func newImportCmd(g *globals) *cobra.Command {
	var cfg run.ImportConfig
	var out string
	var force bool
	c := &cobra.Command{
		Use:   "import",
		Short: "Bring a PyTorch model (.pt or .safetensors state_dict) into a run folder",
		Long: `Import a PyTorch state_dict saved with torch.save (.pt/.pth) or as
.safetensors for one of ebyd's architectures, whose parameter names follow the
usual PyTorch definitions. resnet18-tv, vgg16-tv, vgg16bn-tv and
mobilenetv2-tv are torchvision's resnet18, vgg16, vgg16_bn and mobilenet_v2
(a MobileNetV2's width is its stem's channel count, 32 × width_mult);
--arch auto picks the architecture whose names the file has. Names saved
otherwise can be mapped with --rename OLD=NEW (a prefix rewrite, applied
before matching; a DataParallel "module." prefix is dropped without it).
Input channels, classes and width are read from the weights' shapes and
checked against the dataset. The model's clean test accuracy is measured and
a run folder is written that later stages use like a trained one.

Loading a .pt file never runs code from it: only plain state_dicts are
accepted. A whole model saved with torch.save(model) is refused: save
torch.save(model.state_dict(), "model.pt") instead. The normalisation must
be the one the model was trained with: by default the dataset's usual mean
and std (0.1307/0.3081 for MNIST); a model trained on raw [0,1] pixels needs
--mean 0 --std 1.`,
		Example: `  ebyd import --arch mnistnet --weights mnist_cnn.pt --dataset mnist --out runs/theirs
  ebyd import --arch mnistnet --weights model.safetensors --dataset fashion-mnist --mean 0 --std 1
  ebyd import --arch resnet18-tv --weights tv.pt --dataset cifar10 --data-dir data/cifar --out runs/tv
  ebyd import --arch auto --weights net.pt --rename classifier.=fc2. --out runs/renamed`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if out == "" {
				var err error
				name := strings.TrimSuffix(filepath.Base(cfg.Weights), filepath.Ext(cfg.Weights))
				if out, err = run.DefaultOut(fmt.Sprintf("import-%s-%s", cfg.Dataset, name)); err != nil {
					return err
				}
			}
			if !c.Flags().Changed("mean") {
				cfg.Mean = nil
			}
			if !c.Flags().Changed("std") {
				cfg.Std = nil
			}
			res, err := run.Import(c.Context(), cfg, options(c, g, out, force))
			if err != nil {
				return err
			}
			return reportRun(c, g, res)
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Arch, "arch", "", "architecture of the weights: mnistnet, resnet18, preactresnet18, vgg16, mobilenetv2, torchvision's resnet18-tv, vgg16-tv, vgg16bn-tv, mobilenetv2-tv, or auto (the one whose names the file has) (required)")
	f.StringArrayVar(&cfg.Rename, "rename", nil, "rewrite a prefix of the file's names before matching, OLD=NEW (e.g. classifier.=fc2.); repeatable, the first matching mapping applies, one that matches nothing is an error")
	f.StringVar(&cfg.Weights, "weights", "", "state_dict file: .pt/.pth (torch.save) or .safetensors (required)")
	f.StringVar(&cfg.Dataset, "dataset", "mnist", "dataset the model classifies: "+strings.Join(data.Names(), ", ")+" (cifar10 and imagefolder need --data-dir)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "read the dataset's files from this directory instead of the default location")
	f.Float32SliceVar(&cfg.Mean, "mean", nil, "per-channel mean the model's inputs were normalised with, comma-separated, or one value for all channels (default: the dataset's)")
	f.Float32SliceVar(&cfg.Std, "std", nil, "per-channel std, like --mean (default: the dataset's)")
	f.IntVar(&cfg.TestSubset, "test-subset", 0, "evaluate on a seeded random subset of this many test images (0: all)")
	f.IntVar(&cfg.EvalBatch, "eval-batch", run.DefaultEvalBatch, "images per evaluation batch")
	f.StringVar(&out, "out", "", "run folder to write; its parent must exist (default: a new folder runs/import-DATASET-NAME[-N])")
	f.BoolVar(&force, "force", false, "replace an existing run folder at --out")
	c.MarkFlagRequired("arch")
	c.MarkFlagRequired("weights")
	return c
}
