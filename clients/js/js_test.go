// Package js_test runs the TypeScript client's tests (Node's own runner)
// against a local Anexo whose every API response is checked against the
// OpenAPI document, and checks that the client's generated types match
// that document.
package js_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/anexo/anexo/shared/local"
	"github.com/anexo/anexo/shared/openapi/openapitest"
	"github.com/anexo/anexo/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// dir is this package's directory (resolved before the embedded S3
// changes the working directory).
var dir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}()

// npm runs an npm script of the package, failing the test on error.
func tool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

// ready skips without node and the package's dependencies (CI has both:
// make test installs them with npm ci).
func ready(t *testing.T) {
	t.Helper()
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "typescript"))
	if nodeErr != nil || modErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node and clients/js/node_modules are required in CI (make test runs npm ci)")
		}
		t.Skip("node or clients/js/node_modules missing: cd clients/js && npm ci")
	}
}

// TestTypesMatchTheDocument: src/schema.d.ts is what openapi-typescript
// makes of shared/openapi/openapi.yaml today (make js-types regenerates it).
func TestTypesMatchTheDocument(t *testing.T) {
	ready(t)
	fresh := filepath.Join(t.TempDir(), "schema.d.ts")
	tool(t, "node", "node_modules/openapi-typescript/bin/cli.js", "../../shared/openapi/openapi.yaml", "-o", fresh)
	want, _ := os.ReadFile(fresh)
	got, err := os.ReadFile(filepath.Join(dir, "src", "schema.d.ts"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("clients/js/src/schema.d.ts is not what the OpenAPI document gives: run make js-types (%v)", err)
	}
}

// TestClient builds the client and runs its tests against a local server
// (parts of at least 5 MiB, S3's own minimum, so 5 MiB + 1 byte is two
// parts).
func TestClient(t *testing.T) {
	ready(t)
	tool(t, "node", "node_modules/typescript/bin/tsc", "-p", "tsconfig.json")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := testenv.Config(testenv.Embedded(t))
	c.Limits.MinPartSize = 5 << 20
	srv, err := local.Start(ctx, local.Options{Config: c, Observe: openapitest.New(t).Observe})
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := srv.NewAccount(ctx, "js", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "--test", "--test-reporter=spec", "test/")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ANEXO_URL="+srv.URL, "ANEXO_TOKEN="+token)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test:\n%s", out)
	if err != nil {
		t.Fatalf("the client's tests failed: %v", err)
	}
}
