package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestWebhooksCLI: add prints the id and the secret; test reports the
// receiver's answer (exit 1 when it refuses); ls shows the webhook; rm
// removes it; a bad URL is the API's field error.
func TestWebhooksCLI(t *testing.T) {
	t.Parallel()
	url, token := server(t, 0)
	c := cli{t: t, url: url, token: token, state: t.TempDir()}
	var status atomic.Int32
	status.Store(204)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("webhook-signature") == "" {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer rcv.Close()
	out := c.ok("webhooks", "add", rcv.URL+"/hooks", "--type", "file.created", "--description", "CRM")
	id, secret, ok := strings.Cut(strings.TrimSpace(out), "\t")
	if !ok || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("add printed %q", out)
	}
	if got := c.ok("webhooks", "test", id); !strings.Contains(got, "\tdelivered\t204\t") {
		t.Fatalf("test printed %q", got)
	}
	status.Store(500)
	if code, got, _ := c.run("webhooks", "test", id); code != exitFailed || !strings.Contains(got, "\tfailed\t500\t") {
		t.Fatalf("test of a failing endpoint: exit %d, %q", code, got)
	}
	if got := c.ok("webhooks", "ls"); !strings.Contains(got, id) || !strings.Contains(got, "file.created") || !strings.Contains(got, "enabled") {
		t.Fatalf("ls printed:\n%s", got)
	}
	c.ok("webhooks", "rm", id)
	if got := c.ok("webhooks", "ls"); strings.Contains(got, id) {
		t.Fatalf("ls after rm:\n%s", got)
	}
	if code, _, errs := c.run("webhooks", "add", "ftp://crm.example.com/hooks"); code != exitFailed || !strings.Contains(errs, "(field url)") {
		t.Fatalf("a bad url: exit %d, %s", code, errs)
	}
	if code, _, _ := c.run("webhooks", "rm"); code != exitUsage {
		t.Fatal("rm without an id was accepted")
	}
}
