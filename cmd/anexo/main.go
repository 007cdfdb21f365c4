// Command anexo is the Anexo command-line tool: accounts and tokens today,
// against any endpoint (embedded emulators, moto_server, AWS).
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
