// Package shared_test holds the one rule of the folders under shared/: each
// is a layer, and a layer imports only the layers beneath it.
package shared_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/anexo/anexo/"

// imports lists, for each layer (a folder of shared/), the layers its
// non-test code may import. The layers, from the ground up (docs/architecture.md):
//
//   - base: small libraries that know nothing of files (errors, clock, ids,
//     text rules, CRC, command lines)
//   - domain: the rules and their ports; no AWS SDK
//   - adapters: the ports on AWS and in memory
//   - inbound: what calls the domain (HTTP routes, the authorizer, the
//     triggers of S3, DynamoDB Streams and SQS)
//   - conformance: the suites every adapter of a port passes
//   - platform: wiring, IAM, tracing, the local server
//   - client: the Go client and the load tool; no server code
//   - testing: what the tests share, end-to-end tests
var imports = map[string][]string{
	"base":        {"base"},
	"domain":      {"base", "domain"},
	"adapters":    {"base", "domain", "adapters"},
	"inbound":     {"base", "domain", "inbound"},
	"conformance": {"base", "domain", "conformance", "testing"},
	"platform":    {"base", "domain", "adapters", "inbound", "platform"},
	"client":      {"base", "client"},
	"testing":     {"base", "domain", "adapters", "inbound", "conformance", "platform", "client", "testing"},
}

// noSDK are the layers that import no AWS SDK (the domain is AWS-free; base
// is below it).
var noSDK = []string{"base", "domain"}

// TestLayers: no Go file under shared/ imports a layer above its own, or
// code outside shared/; the domain imports no AWS SDK; the CLI (cmd/anexo)
// and the client's tests link no server code.
func TestLayers(t *testing.T) {
	bad, checked, err := violations(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
	if checked < 100 {
		t.Fatalf("checked %d files: the walk missed the tree", checked)
	}

	// The CLI links the client and base alone.
	cli, _ := filepath.Glob("../cmd/anexo/*.go")
	if len(cli) == 0 {
		t.Fatal("no ../cmd/anexo")
	}
	for _, path := range cli {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		for _, imp := range fileImports(t, path) {
			if to, ok := strings.CutPrefix(imp, module+"shared/"); ok && !strings.HasPrefix(to, "client") && !strings.HasPrefix(to, "base/") {
				t.Errorf("%s: the CLI imports server code %s", path, imp)
			}
		}
	}
}

// TestLayersCatchViolations: the check refuses a domain package importing
// an adapter or the SDK, and the client importing the domain (in its tests
// too), and takes what the layers allow, so TestLayers cannot pass by
// checking nothing.
func TestLayersCatchViolations(t *testing.T) {
	root := t.TempDir()
	write := func(path, imp string) {
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		src := "package x\n\nimport _ \"" + imp + "\"\n"
		if err := os.WriteFile(full, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("domain/a/a.go", module+"shared/adapters/dynamo")
	write("domain/b/b.go", "github.com/aws/aws-sdk-go-v2/aws")
	write("client/c_test.go", module+"shared/domain/files")
	write("inbound/d/d.go", module+"infra/stack")
	write("adapters/ok/ok.go", module+"shared/domain/files")
	write("domain/ok/ok_test.go", module+"shared/adapters/memory")
	write("platform/ok/ok.go", module+"shared/inbound/httpapi")
	bad, checked, err := violations(root)
	if err != nil {
		t.Fatal(err)
	}
	if checked != 7 || len(bad) != 4 {
		t.Fatalf("checked %d files, violations %q; want 7 and 4", checked, bad)
	}
	for i, want := range []string{"client/c_test.go", "domain/a/a.go", "domain/b/b.go", "inbound/d/d.go"} {
		if !strings.HasPrefix(bad[i], want) {
			t.Errorf("violation %d is %q, want %s", i, bad[i], want)
		}
	}
}

// violations walks a tree of layers and tells each import a layer may not
// make, and how many Go files it read.
func violations(root string) (bad []string, checked int, err error) {
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(rel, ".go") || !strings.Contains(rel, "/") {
			return nil
		}
		layer, _, _ := strings.Cut(rel, "/")
		allowed, ok := imports[layer]
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: %s/ is no layer; add it to imports", rel, layer))
			return nil
		}
		test := strings.HasSuffix(rel, "_test.go")
		if test && layer != "client" {
			allowed = imports["testing"]
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, s := range f.Imports {
			imp, _ := strconv.Unquote(s.Path.Value)
			if !test && slices.Contains(noSDK, layer) && strings.HasPrefix(imp, "github.com/aws/") {
				bad = append(bad, fmt.Sprintf("%s (%s) imports the AWS SDK: %s", rel, layer, imp))
			}
			to, ok := strings.CutPrefix(imp, module+"shared/")
			if !ok {
				if strings.HasPrefix(imp, module) {
					bad = append(bad, fmt.Sprintf("%s imports %s, outside shared/", rel, imp))
				}
				continue
			}
			if target, _, _ := strings.Cut(to, "/"); !slices.Contains(allowed, target) {
				bad = append(bad, fmt.Sprintf("%s (%s) imports %s: %s may import only %v", rel, layer, imp, layer, allowed))
			}
		}
		return nil
	})
	return bad, checked, err
}

func fileImports(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range f.Imports {
		p, _ := strconv.Unquote(s.Path.Value)
		out = append(out, p)
	}
	return out
}
