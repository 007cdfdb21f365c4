// Command anexo-admin is the operator's tool: it works on a deployment's
// table directly with AWS credentials (no token), to bootstrap accounts and
// their first admin token, list and inspect accounts, and provision the
// emulators. Everything else goes through the API (the anexo command).
package main

import "github.com/anexo/anexo/shared/base/cmdline"

func main() { cmdline.Main(run) }
