// Package cfnlint runs cfn-lint on synthesized templates for the infra
// tests (required in CI, skipped elsewhere when it is not installed).
package cfnlint

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
	b, err := exec.Command(Tool(t, "cfn-lint"), "--format", "json", template).Output()
	var findings []struct {
		Level   string
		Message string
		Rule    struct{ Id string }
	}
	if jerr := json.Unmarshal(b, &findings); jerr != nil {
		t.Fatalf("cfn-lint: %v %v: %s", err, jerr, b)
	}
	for _, f := range findings {
		if f.Level == "Error" {
			t.Errorf("cfn-lint %s: %s", f.Rule.Id, f.Message)
		} else {
			t.Logf("cfn-lint %s %s: %s", f.Level, f.Rule.Id, f.Message)
		}
	}
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
