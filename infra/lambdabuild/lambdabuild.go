// Package lambdabuild builds the bootstraps the stack deploys: one static
// linux/arm64 binary per function under <dir>/<function>/bootstrap. The CDK
// app, `make build`, `make invoke` and the aws-lambda-rie tests all build
// through it, so what is tested is what is deployed.
//
// Builds are reproducible: -trimpath drops local paths and -buildvcs=false
// keeps the commit out of the binary, so a bootstrap changes only when the
// code it is built from changes, and so does its asset hash (an unrelated
// commit redeploys nothing). They are cached: go build takes unchanged
// packages and links from its build cache (a rebuild of all ten takes a
// few seconds), and a bootstrap whose bytes did not change is left as it
// was, modification time included.
package lambdabuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// GOARCH is the architecture of the deployed functions (Graviton).
const GOARCH = "arm64"

// Flags are the go build flags of every bootstrap: no RPC mode in the
// Lambda runtime library (provided.al2023 speaks the Runtime API), AVIF
// and HEIC decoded in WebAssembly only (never a shared library found on
// the machine: nodynamic), no local paths, no VCS stamp, no symbol tables.
var Flags = []string{"-tags", "lambda.norpc,nodynamic", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w"}

// Command is the go build of one function's bootstrap for goarch into out,
// run in the module root.
func Command(ctx context.Context, root, fn, goarch, out string) *exec.Cmd {
	args := append([]string{"build"}, Flags...)
	args = append(args, "-o", out, "./functions/"+fn)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(withoutGOFLAGS(os.Environ()), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	return cmd
}

// withoutGOFLAGS drops GOFLAGS from env: a developer's -race or -cover
// must not end up in a deployed binary.
func withoutGOFLAGS(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOFLAGS=") {
			out = append(out, kv)
		}
	}
	return out
}

// Build builds every function's bootstrap into dir/<function>/bootstrap
// for goarch (GOARCH to deploy), a few at a time. An error carries the
// compiler's output.
func Build(ctx context.Context, root, dir, goarch string, fns []string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	sem := make(chan struct{}, max(2, runtime.NumCPU()/2))
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = build(ctx, root, fn, goarch, filepath.Join(abs, fn, "bootstrap"))
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// build writes out only when the new bootstrap differs from it.
func build(ctx context.Context, root, fn, goarch, out string) error {
	tmp := out + ".new"
	defer os.Remove(tmp)
	if b, err := Command(ctx, root, fn, goarch, tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("building functions/%s: %v\n%s", fn, err, strings.TrimSpace(string(b)))
	}
	built, err := os.ReadFile(tmp)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(out); err == nil && bytes.Equal(old, built) {
		return nil
	}
	return os.Rename(tmp, out)
}

// Root is the module root: the nearest directory holding go.mod, from the
// working directory up.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or above: run the CDK app from the repository")
		}
		dir = parent
	}
}
