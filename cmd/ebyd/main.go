package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"ebyd/internal/quote"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first interrupt stops the stage cleanly; restoring the default
		// lets a second one kill the process at once.
		<-ctx.Done()
		stop()
	}()
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError marks a command line that does not parse (exit status 2).
type usageError struct{ error }

// execute runs the ebyd command line args and returns the exit status:
// 0 on success, 1 when the command fails, 2 when args do not parse.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(args, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, errorLine(err))
	if isUsage(err) {
		return 2
	}
	return 1
}

// errorLine is the one "ebyd: ..." line that reports err.
func errorLine(err error) string {
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = "interrupted; nothing was written"
	}
	// One line, always: cobra's suggestions come on lines of their own.
	msg = strings.Replace(msg, "\n\nDid you mean this?\n", "; did you mean:", 1)
	msg = strings.Join(strings.Fields(msg), " ")
	// The last line of defence against names read from files that an error
	// did not quote: no control character reaches the terminal raw.
	return "ebyd: " + quote.Line(msg)
}

// isUsage reports whether err is about the command line rather than the
// work: a bad flag, an unknown command, a missing required flag.
func isUsage(err error) bool {
	var ue usageError
	msg := err.Error()
	return errors.As(err, &ue) || strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "required flag")
}

// globals are the flags every command takes.
type globals struct {
	json    bool
	quiet   bool
	command []string // recorded in manifests
}

func newRoot(args []string, stdout, stderr io.Writer) *cobra.Command {
	g := &globals{command: append([]string{"ebyd"}, args...)}
	root := &cobra.Command{
		Use:   "ebyd",
		Short: "Expose Before You Defend: backdoor attacks and defenses for neural networks",
		Long: `ebyd trains image classifiers, plants backdoors in them, and exposes,
detects and removes those backdoors. Each stage writes a run folder
(run.json + model.safetensors) that the next stage reads. Progress goes to
stderr; results go to stdout as a table and, with --json, as one JSON
object on the last line.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().BoolVar(&g.json, "json", false, "also print the result as one JSON object on the last line of stdout")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "do not report progress on stderr")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		newTrainCmd(g),
		newEvalCmd(g),
		newExposeCmd(g),
		newScanCmd(g),
		newDetectCmd(g),
		newRemoveCmd(g),
		newPipelineCmd(g),
		newImportCmd(g),
		newExportCmd(g),
		newBenchCmd(g),
		newVersionCmd(g),
	)
	return root
}

// noArgs rejects positional arguments with a usage error.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no positional arguments, got %q (see %s --help)", c.CommandPath(), args, c.CommandPath())}
	}
	return nil
}
