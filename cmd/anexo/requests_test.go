package main

import (
	"strings"
	"testing"
)

// TestRequestCLI: create prints the id and the link; ls and show list
// it; link replaces the link; revoke ends it; bad input is a usage error
// or the API's field.
func TestRequestCLI(t *testing.T) {
	t.Parallel()
	url, token := server(t, 0)
	c := cli{t: t, url: url, token: token, state: t.TempDir()}
	c.ok("entity", "deal/9001", "--title", "Venda apto 302")
	out := c.ok("request", "create", "--entity", "deal/9001", "--slot", "RG", "--slot", "Comprovante=.pdf", "--optional", "Outros", "--expires", "7d")
	id, link, ok := strings.Cut(strings.TrimSpace(out), "\t")
	if !ok || !strings.HasPrefix(link, url+"/request.html#anr_") {
		t.Fatalf("create printed %q", out)
	}
	if got := c.ok("request", "ls", "--status", "open"); !strings.Contains(got, id) || !strings.Contains(got, "RG, Comprovante") || !strings.Contains(got, "deal/9001") {
		t.Fatalf("ls printed:\n%s", got)
	}
	if got := c.ok("request", "show", id, "--json"); !strings.Contains(got, `".pdf"`) || !strings.Contains(got, `"required": true`) {
		t.Fatalf("show printed:\n%s", got)
	}
	next := c.ok("request", "link", id)
	if _, l2, _ := strings.Cut(strings.TrimSpace(next), "\t"); l2 == link || !strings.Contains(l2, "#anr_") {
		t.Fatalf("link printed %q", next)
	}
	if got := c.ok("request", "revoke", id); got != id+"\trevoked\n" {
		t.Fatalf("revoke printed %q", got)
	}
	if got := c.ok("request", "ls", "--status", "open"); strings.Contains(got, id) {
		t.Fatalf("a revoked request listed open:\n%s", got)
	}
	if code, _, errs := c.run("request", "create", "--entity", "deal/9001", "--expires", "100d", "--title", "x"); code != exitFailed || !strings.Contains(errs, "(field expires_in)") {
		t.Fatalf("too long an expiry: exit %d, %s", code, errs)
	}
	if code, _, _ := c.run("request", "create", "--entity", "deal", "--title", "x"); code != exitUsage {
		t.Fatal("a bad --entity was accepted")
	}
	if code, _, _ := c.run("request", "create", "--entity", "deal/9001", "--expires", "soon"); code != exitUsage {
		t.Fatal("a bad --expires was accepted")
	}
	if code, _, _ := c.run("request", "revoke"); code != exitUsage {
		t.Fatal("revoke without an id was accepted")
	}
}
