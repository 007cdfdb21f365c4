// Package cmdline holds what Anexo's command-line tools share: how they
// parse their arguments and how they stop on a signal.
package cmdline

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main runs a command with the process's arguments and exits with its code.
// Ctrl-C (or SIGTERM) cancels the context, so the command stops cleanly
// (an upload keeps its state and resumes when run again); a second Ctrl-C
// ends the process at once.
func Main(run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// ParseAnywhere parses flags wherever they stand among the arguments
// (`anexo download UUID -o copy.pdf` as well as `anexo download -o copy.pdf
// UUID`); after `--` everything is an argument.
func ParseAnywhere(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}
