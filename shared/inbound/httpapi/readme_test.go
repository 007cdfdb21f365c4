package httpapi

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeScopeTable: the README's route table lists every authenticated
// route once, with the scope the route table (and so the HTTP layer)
// requires, and nothing else.
func TestReadmeScopeTable(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([A-Z]+) ([^`]+)` \\| ((?:files|tokens|webhooks|requests):[a-z]+) \\|")
	param := regexp.MustCompile(`\{[^}]*\}`)
	shape := func(method, path string) string { return method + " " + param.ReplaceAllString(path, "{}") }
	want := map[string]string{}
	for _, r := range All() {
		if !r.Public {
			want[shape(r.Method, r.Path)] = string(r.Scope)
		}
	}
	seen := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		key := shape(m[1], strings.ReplaceAll(m[2], `\|`, "|"))
		scope, ok := want[key]
		switch {
		case !ok:
			t.Errorf("README lists %s %s, which is no authenticated route", m[1], m[2])
		case seen[key]:
			t.Errorf("README lists %s twice", key)
		case scope != m[3]:
			t.Errorf("README: %s %s needs %s, the route table says %s", m[1], m[2], m[3], scope)
		}
		seen[key] = true
	}
	for key := range want {
		if !seen[key] {
			t.Errorf("README's route table lacks %s", key)
		}
	}
}
