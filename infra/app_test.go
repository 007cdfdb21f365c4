package main

import (
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/infra/cfnlint"
	"github.com/anexo/anexo/infra/lambdabuild"
	"github.com/anexo/anexo/shared/platform/iam"
)

// root is the repository root (tests run in infra/).
const root = ".."

// cdkCLI is the pinned CDK CLI the Makefile runs (CDK ?= npx --yes aws-cdk@V).
func cdkCLI(t *testing.T) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the CDK CLI: not under -short")
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CDK \?= (npx --yes aws-cdk@\d+\.\d+\.\d+)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no `CDK ?= npx --yes aws-cdk@<version>` line")
	}
	return strings.Fields(string(m[1]))
}

// readmeSynth is the README's synth command line, which must run the
// Makefile's pinned CLI.
func readmeSynth(t *testing.T, cli []string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^(npx aws-cdk@\S+ synth[^#\n]*?)\s*(#.*)?$`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("README: no `npx aws-cdk@<version> synth` line")
	}
	if want := "npx " + cli[2]; !strings.HasPrefix(string(m[1]), want+" ") {
		t.Fatalf("README runs %q, the Makefile pins %q", m[1], want)
	}
	return string(m[1])
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1", "npm_config_yes=true")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
}

func assets(t *testing.T, outdir string) assetManifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(outdir, "Anexo.assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m assetManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

type assetManifest struct {
	Files map[string]struct {
		Source struct{ Path, Packaging string }
	}
}

// TestCDKSynth: the README's `cdk synth` line, run as written in the
// repository (in CI a fresh clone: nothing built), builds every function
// and the files console: one zip asset per function, the console's build, each a static linux/arm64 bootstrap that
// depends on its code only. Builds are reproducible: a rebuild gives the
// same bytes (lambdabuild leaves a bootstrap whose bytes did not change
// untouched, modification time included), and CDK names an asset by a
// hash of its directory's content, so an unchanged commit redeploys
// nothing. The template passes cfn-lint.
func TestCDKSynth(t *testing.T) {
	cli := cdkCLI(t)
	cfnlint.Tool(t, cli[0])
	run(t, "/bin/sh", "-c", readmeSynth(t, cli))
	out1, bin1 := filepath.Join(root, "cdk.out"), filepath.Join(root, "bin")
	first := assets(t, out1)

	fns := slices.Sorted(maps.Keys(iam.Policies))
	code := 0
	for _, f := range first.Files {
		if f.Source.Packaging == "zip" {
			code++
		}
	}
	// one per function, the console's build and its config.json, and the
	// handler CDK deploys them with
	if code != len(fns)+3 {
		t.Errorf("%d code assets (%d assets in all), want one per function (%d) and the console's 3", code, len(first.Files), len(fns))
	}
	console := false
	for _, f := range first.Files {
		page, err := os.ReadFile(filepath.Join(out1, f.Source.Path, "index.html"))
		if err != nil {
			continue
		}
		scripts, _ := filepath.Glob(filepath.Join(out1, f.Source.Path, "assets", "main-*.js"))
		console = strings.Contains(string(page), `<div id="app">`) && len(scripts) == 1
	}
	if !console {
		t.Error("no asset holds the console's build (index.html and its script)")
	}

	modified := map[string]time.Time{}
	for _, fn := range fns {
		p := filepath.Join(bin1, fn, "bootstrap")
		checkBootstrap(t, p)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		modified[fn] = st.ModTime()
	}
	if err := lambdabuild.Build(context.Background(), root, bin1, lambdabuild.GOARCH, fns); err != nil {
		t.Fatal(err)
	}
	for _, fn := range fns {
		if st, _ := os.Stat(filepath.Join(bin1, fn, "bootstrap")); !st.ModTime().Equal(modified[fn]) {
			t.Errorf("%s: a rebuild of unchanged code gave other bytes: builds are not reproducible", fn)
		}
	}
	cfnlint.File(t, filepath.Join(out1, "Anexo.template.json"))
}

// checkBootstrap: a static linux/arm64 binary that depends on its code
// only (no local paths, no commit: a new commit that does not touch a
// function leaves its asset hash alone).
func checkBootstrap(t *testing.T, path string) {
	t.Helper()
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range info.Settings {
		if strings.HasPrefix(s.Key, "vcs") || s.Key == "-trimpath" && s.Value != "true" || s.Key == "CGO_ENABLED" && s.Value != "0" {
			t.Errorf("%s: built with %s=%s", path, s.Key, s.Value)
		}
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		t.Errorf("%s: %v %v, want linux arm64", path, f.Machine, f.OSABI)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s: dynamically linked (provided.al2023 runs static binaries built with CGO_ENABLED=0)", path)
		}
	}
}

// TestAppNeedsGo: the app cdk.json runs says in one line what is missing
// when Go is absent, too old or broken, and exits non-zero (no stack trace).
func TestAppNeedsGo(t *testing.T) {
	var cdk struct{ App string }
	raw, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cdk); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct{ fakeGo, want string }{
		"no go on PATH": {"", "there is no go on PATH"},
		"old go":        {"echo go1.21.0", "needs Go 1.26"},
		"broken go":     {"echo 'go: cannot find GOROOT' >&2; exit 2", "go env GOVERSION failed"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := t.TempDir()
			if c.fakeGo != "" {
				if err := os.WriteFile(filepath.Join(path, "go"), []byte("#!/bin/sh\n"+c.fakeGo+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("/bin/sh", "-c", cdk.App)
			cmd.Dir = root
			cmd.Env = []string{"PATH=" + path, "HOME=" + t.TempDir()}
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if err == nil {
				t.Fatal("the app succeeded")
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], c.want) || stdout.Len() != 0 {
				t.Errorf("stderr %q stdout %q: want one line saying %q", stderr.String(), stdout.String(), c.want)
			}
		})
	}
}
