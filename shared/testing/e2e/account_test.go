package e2e_test

import (
	"strings"
	"testing"

	"github.com/anexo/anexo/shared/testing/testenv"
)

// TestAccountSettings: an account's settings read with files:read and
// changed only with tokens:admin, validated by field, kept per account;
// every file view carries its scan (off where nothing scans).
func TestAccountSettings(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	other := e.account(0, "")
	settings := func(c *client) string {
		t.Helper()
		a := c.expect(200, "GET", "/v1/account", nil)
		return a["settings"].(map[string]any)["scan_pending"].(string)
	}
	if got := settings(c); got != "block" {
		t.Fatalf("default scan_pending = %q, want block", got)
	}
	reader := e.tokenClient(t, c, "files:read", "files:write")
	if r := reader.do("PATCH", "/v1/account", map[string]any{"settings": map[string]any{"scan_pending": "allow"}}); r.Status != 403 {
		t.Fatalf("PATCH without tokens:admin: %s, want 403", r)
	}
	for body, field := range map[string]string{
		`{"settings":{"scan_pending":"maybe"}}`: "settings.scan_pending",
		`{"settings":{"quota":1}}`:              "settings.quota",
	} {
		r := c.do("PATCH", "/v1/account", body)
		if r.Status != 400 || !strings.Contains(string(r.Body), field) {
			t.Fatalf("PATCH %s: %s, want 400 naming %s", body, r, field)
		}
	}
	got := c.expect(200, "PATCH", "/v1/account", map[string]any{"settings": map[string]any{"scan_pending": "allow"}})
	if got["settings"].(map[string]any)["scan_pending"] != "allow" || settings(c) != "allow" || settings(other) != "block" {
		t.Fatalf("after PATCH: %v; other account %s", got, settings(other))
	}
	f := c.upload("a.txt", []byte("alpha"), nil)
	scan, _ := f["scan"].(map[string]any)
	if scan["status"] != "off" || scan["scanned_at"] != nil {
		t.Fatalf("a file's scan where nothing scans = %v", f["scan"])
	}
	v := c.expect(200, "GET", "/v1/files/"+f["uuid"].(string)+"/versions/"+f["version_uuid"].(string), nil)
	if vs, _ := v["scan"].(map[string]any); vs["status"] != "off" {
		t.Fatalf("a version's scan = %v", v["scan"])
	}
	if r := c.do("GET", "/v1/files?filter[scan]=nope", nil); r.Status != 400 || !strings.Contains(string(r.Body), "filter[scan][0]") {
		t.Fatalf("filter[scan]=nope: %s", r)
	}
	if ids, _ := c.walk("filter[scan]=off"); len(ids) != 1 {
		t.Fatalf("filter[scan]=off: %v", ids)
	}
	if ids, _ := c.walk("filter[scan]=pending,infected"); len(ids) != 0 {
		t.Fatalf("filter[scan]=pending,infected: %v", ids)
	}
}
