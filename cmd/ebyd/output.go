package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"ebyd/internal/quote"
	"ebyd/run"
)

// row is one line of a result table.
type row struct{ key, value string }

// report prints a result: the table, then with --json the object on one line.
func report(c *cobra.Command, g *globals, rows []row, obj any) error {
	w := tabwriter.NewWriter(c.OutOrStdout(), 0, 0, 2, ' ', 0)
	for _, r := range rows {
		// Values can hold names read from run folders: no control
		// characters reach the terminal raw.
		fmt.Fprintf(w, "%s\t%s\n", quote.Line(r.key), quote.Line(r.value))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if !g.json {
		return nil
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.OutOrStdout(), string(b))
	return err
}

// options are the run options common to stages that write a run folder.
func options(c *cobra.Command, g *globals, out string, force bool) run.Options {
	o := run.Options{Out: out, Force: force, Command: g.command}
	if !g.quiet {
		o.Progress = c.ErrOrStderr()
		if f, ok := o.Progress.(*os.File); ok && isTerminal(f) {
			o.Live, o.Columns = true, terminalColumns(f)
		}
	}
	return o
}

// isTerminal reports whether f is a character device (a terminal), where
// progress redraws one line instead of printing many.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func pct(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

func dur(s float64) string {
	if s < 60 {
		return fmt.Sprintf("%.1f s", s)
	}
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

func unmarshal(raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("reading the run's config: %w", err)
	}
	return nil
}
