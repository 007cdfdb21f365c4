// Command anexo is the Anexo command-line tool: uploads (parallel,
// resumable, with progress), downloads, listing, trash and attachments
// against any Anexo endpoint, and accounts and tokens against its table.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
