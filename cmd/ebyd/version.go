package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ebyd/run"
)

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the engine's build",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			e := run.CurrentEngine()
			rows := []row{
				{"ebyd", run.Version},
				{"go", e.GoVersion + " " + e.OS + "/" + e.Arch},
				{"blas", e.BLAS},
				{"convolutions", e.Conv},
				{"gomaxprocs", fmt.Sprint(e.GOMAXPROCS)},
			}
			if e.Revision != "" {
				rows = append(rows, row{"revision", e.Revision})
			}
			return report(c, g, rows, struct {
				Version string `json:"version"`
				run.Engine
			}{run.Version, e})
		},
	}
}
