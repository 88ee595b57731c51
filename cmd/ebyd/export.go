package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ebyd/run"
)

func newExportCmd(g *globals) *cobra.Command {
	var dir, format, out string
	var force bool
	c := &cobra.Command{
		Use:   "export",
		Short: "Write a run's model as a PyTorch state_dict (.safetensors or .pt)",
		Long: `Write the model of a run folder as a state_dict with PyTorch's parameter
names and dtypes (BatchNorm's num_batches_tracked as int64), either as
.safetensors or as a torch.save .pt file that torch.load reads:

  model.load_state_dict(torch.load("model.pt"))`,
		Example: `  ebyd export --run runs/clean --format pt --out clean.pt
  ebyd export --run runs/clean --out clean.safetensors`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			res, err := run.Export(dir, format, out, force)
			if err != nil {
				return err
			}
			rows := []row{
				{"file", res.File},
				{"format", res.Format},
				{"model", fmt.Sprintf("%s (%d tensors, %d params)", res.Arch, res.Tensors, res.Params)},
				{"size", fmt.Sprintf("%d bytes", res.Bytes)},
			}
			return report(c, g, rows, res)
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "run", "", "run folder whose model to export (required)")
	f.StringVar(&format, "format", "", "safetensors or pt (default: from the extension of --out)")
	f.StringVar(&out, "out", "", "file to write (required)")
	f.BoolVar(&force, "force", false, "replace an existing file at --out")
	c.MarkFlagRequired("run")
	c.MarkFlagRequired("out")
	return c
}
