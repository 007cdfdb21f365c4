// Command build writes every function's linux/arm64 bootstrap under a
// directory, as the CDK app does before it synthesizes (make build; make
// invoke builds one for the host with -goarch).
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/anexo/anexo/infra/lambdabuild"
	"github.com/anexo/anexo/shared/platform/iam"
)

func main() {
	dir := flag.String("dir", "bin", "write <dir>/<function>/bootstrap")
	goarch := flag.String("goarch", lambdabuild.GOARCH, "target architecture (the host's to run under aws-lambda-rie here)")
	flag.Parse()
	fns := flag.Args()
	if len(fns) == 0 {
		fns = slices.Sorted(maps.Keys(iam.Policies))
	}
	if err := run(*dir, *goarch, fns); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
}

func run(dir, goarch string, fns []string) error {
	root, err := lambdabuild.Root()
	if err != nil {
		return err
	}
	return lambdabuild.Build(context.Background(), root, dir, goarch, fns)
}
