package e2e_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// movesBytes marks a test that moves tens of MiB through the local API
// (large uploads, relayed parts, fault walks over them). The race detector
// costs per byte moved (each large buffer is fresh shadow memory: 18× on
// these tests, against 2–4× on the rest), and their code paths run under
// -race in the suite's smaller tests; so `make test` runs them in a second
// pass without -race (its E2E_BYTES list), and the -race pass skips them.
// Under -race it fails if the Makefile's list lacks the test, so that no
// test is skipped everywhere.
func movesBytes(t *testing.T) {
	t.Helper()
	if !underRace {
		return
	}
	name, _, _ := strings.Cut(t.Name(), "/")
	if !byteTests(t).MatchString(name) {
		t.Fatalf("%s moves bytes but the Makefile's E2E_BYTES does not list it: add it there (make test runs those without -race)", name)
	}
	t.Skip("moves tens of MiB: make test runs it without -race (E2E_BYTES)")
}

// byteTests is the Makefile's E2E_BYTES, as the -run pattern it gives.
func byteTests(t *testing.T) *regexp.Regexp {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^E2E_BYTES := (.+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the Makefile defines no E2E_BYTES")
	}
	return regexp.MustCompile(`^(` + string(m[1]) + `)$`)
}
