// Command anexo is the Anexo command-line tool: uploads (parallel,
// resumable, with progress), downloads, listing, trash and attachments
// against any Anexo endpoint, and accounts and tokens against its table.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// main: Ctrl-C (or SIGTERM) stops the command cleanly (an upload keeps its
// state and resumes when run again); a second Ctrl-C ends it at once.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
