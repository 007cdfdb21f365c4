// Package norace marks the tests `make test` runs in a pass without -race.
//
// The race detector costs per byte or per pixel a test moves (each large
// buffer is fresh shadow memory: 18× on the end-to-end tests that upload
// tens of MiB, 7× on the preview renders, against 2–4× on the rest),
// while the code paths of those tests run under -race in smaller tests.
// So the Makefile lists them (NORACE, with their packages in NORACE_PKGS),
// its -race pass skips them and a second pass runs them without -race.
package norace

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Run skips t under -race, after checking that the Makefile's second pass
// runs it: it fails a test the Makefile does not list, so that no test is
// skipped everywhere. Without -race it does nothing.
func Run(t *testing.T) {
	t.Helper()
	if !race {
		return
	}
	tests, pkgs, pkg := listed(t)
	name, _, _ := strings.Cut(t.Name(), "/")
	if !tests.MatchString(name) {
		t.Fatalf("%s runs without -race but the Makefile's NORACE does not list it: add it there", name)
	}
	if !pkgs[pkg] {
		t.Fatalf("%s runs without -race but the Makefile's NORACE_PKGS does not list ./%s: add it there", name, pkg)
	}
	t.Skip("costs the race detector per byte: make test runs it without -race (NORACE)")
}

// listed reads the Makefile's NORACE (as the -run pattern it gives) and
// NORACE_PKGS, and the package under test's path from the module's root.
func listed(t *testing.T) (*regexp.Regexp, map[string]bool, string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(root)
		if up == root {
			t.Fatal("no go.mod above the package")
		}
		root = up
	}
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + ` := (.+)$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("the Makefile defines no %s", name)
		}
		return string(m[1])
	}
	pkgs := map[string]bool{}
	for _, p := range strings.Fields(value("NORACE_PKGS")) {
		pkgs[strings.TrimPrefix(p, "./")] = true
	}
	rel, err := filepath.Rel(root, wd)
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`^(` + value("NORACE") + `)$`), pkgs, filepath.ToSlash(rel)
}
