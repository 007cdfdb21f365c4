// Command anexo is the Anexo command-line tool: uploads (parallel,
// resumable, with progress), downloads, listing, trash, attachments and the
// account's tokens, against any Anexo endpoint, over HTTP only.
package main

import "github.com/anexo/anexo/shared/base/cmdline"

// main: Ctrl-C (or SIGTERM) stops the command cleanly (an upload keeps its
// state and resumes when run again); a second Ctrl-C ends it at once.
func main() { cmdline.Main(run) }
