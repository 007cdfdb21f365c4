// Package cfnlint runs cfn-lint on synthesized templates for the infra
// tests (required in CI, skipped elsewhere when it is not installed).
//
// cfn-lint takes about 10 s of CPU on the stack's template, and its
// findings depend on the template and its own version alone: they are
// kept under the repository's .cache/cfn-lint by the hash of both, so a
// template linted before is not linted again.
package cfnlint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anexo/anexo/infra/lambdabuild"
)

// Tool finds a command the tests need: CI must have it, a developer's
// machine may not (the test is skipped).
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// File lints a template file: an error finding fails the test, others are
// logged.
func File(t testing.TB, template string) {
	t.Helper()
	b := findings(t, template)
	var found []struct {
		Level   string
		Message string
		Rule    struct{ Id string }
	}
	if err := json.Unmarshal(b, &found); err != nil {
		t.Fatalf("cfn-lint: %v: %s", err, b)
	}
	for _, f := range found {
		if f.Level == "Error" {
			t.Errorf("cfn-lint %s: %s", f.Rule.Id, f.Message)
		} else {
			t.Logf("cfn-lint %s %s: %s", f.Level, f.Rule.Id, f.Message)
		}
	}
}

// findings is cfn-lint's JSON on template: kept from an earlier run of
// the same version on the same template, else run and kept.
func findings(t testing.TB, template string) []byte {
	t.Helper()
	tool := Tool(t, "cfn-lint")
	content, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	h.Write(toolVersion(t, tool))
	h.Write(content)
	kept := filepath.Join(cacheDir(t), hex.EncodeToString(h.Sum(nil))+".json")
	if b, err := os.ReadFile(kept); err == nil {
		return b
	}
	b, err := exec.Command(tool, "--format", "json", template).Output()
	// cfn-lint exits non-zero when it finds anything: JSON is the answer
	if !json.Valid(b) {
		t.Fatalf("cfn-lint: %v: %s", err, b)
	}
	if err := os.WriteFile(kept, b, 0o644); err != nil {
		t.Logf("cfn-lint: not kept: %v", err)
	}
	return b
}

var version = struct {
	once sync.Once
	v    []byte
	err  error
}{}

// toolVersion is what `cfn-lint --version` says (once per test binary).
func toolVersion(t testing.TB, tool string) []byte {
	t.Helper()
	version.once.Do(func() { version.v, version.err = exec.Command(tool, "--version").Output() })
	if version.err != nil {
		t.Fatalf("cfn-lint --version: %v", version.err)
	}
	return version.v
}

// cacheDir is .cache/cfn-lint at the repository's root, its week-old
// entries removed.
func cacheDir(t testing.TB) string {
	t.Helper()
	root, err := lambdabuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, ".cache", "cfn-lint")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if old, err := os.ReadDir(dir); err == nil {
		for _, e := range old {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > 7*24*time.Hour {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	return dir
}

// Doc lints a template held as a document.
func Doc(t testing.TB, doc map[string]any) {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "template.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	File(t, p)
}
