package e2e_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/testing/testenv"
)

// TestSecondSecurityReview replays, over HTTP on one local server, the
// findings of the second outside security review that need the whole
// stack: minted tokens bounded by their minter, tickets bound to the
// secret that minted them, a retirement that holds on the next request,
// write-only completions without file metadata, user-visible strings
// under one validator, webhook secret rotation as asked, and a
// companion_endpoint that no request header can steer.
func TestSecondSecurityReview(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	a := e.account(0, "")

	t.Run("minted tokens stay within the minter", func(t *testing.T) {
		m := a.expect(201, "POST", "/v1/tokens", map[string]any{"name": "minter", "scopes": []string{"files:read", "tokens:admin"},
			"ttl_seconds": 3600, "allowed_domain": "https://app.example.com"})
		minter := &client{t: t, base: a.base, token: m["secret"].(string), origin: "https://app.example.com"}
		for field, body := range map[string]map[string]any{
			"ttl_seconds":    {"name": "x", "scopes": []string{"files:read"}, "allowed_domain": "https://app.example.com"},
			"allowed_domain": {"name": "x", "scopes": []string{"files:read"}, "ttl_seconds": 600},
			"scopes[0]":      {"name": "x", "scopes": []string{"files:write"}, "ttl_seconds": 600, "allowed_domain": "https://app.example.com"},
		} {
			problemField(t, minter.do("POST", "/v1/tokens", body), 400, field)
		}
		problemField(t, minter.do("POST", "/v1/tokens", map[string]any{"name": "x", "scopes": []string{"files:read"},
			"ttl_seconds": 315360000, "allowed_domain": "https://app.example.com"}), 400, "ttl_seconds")
		problemField(t, minter.do("POST", "/v1/tokens", map[string]any{"name": "x", "scopes": []string{"files:read"},
			"ttl_seconds": 600, "allowed_domain": "https://*.example.com"}), 400, "allowed_domain")
		got := minter.expect(201, "POST", "/v1/tokens", map[string]any{"name": "child", "scopes": []string{"files:read"},
			"ttl_seconds": 600, "allowed_domain": "https://app.example.com"})
		child := &client{t: t, base: a.base, token: got["secret"].(string), origin: "https://evil.com"}
		if r := child.do("GET", "/v1/files", nil); r.Status != 403 {
			t.Fatalf("a minted token from another origin: %s", r)
		}
		if names := a.expect(200, "GET", "/v1/tokens", nil)["tokens"].([]any); len(names) < 3 {
			t.Fatalf("tokens: %v", names)
		}
		problemField(t, a.do("POST", "/v1/tokens", map[string]any{"name": "x", "scopes": []string{"files:read"},
			"allowed_domain": "https://*.co.uk"}), 400, "allowed_domain")
	})

	t.Run("tickets end with the secret that minted them", func(t *testing.T) {
		m := a.expect(201, "POST", "/v1/tokens", map[string]any{"name": "uploader", "scopes": []string{"files:write"}})
		id := m["token"].(map[string]any)["id"].(string)
		w := &client{t: t, base: a.base, token: m["secret"].(string)}
		u := w.ticket(0)
		create := map[string]any{"filename": "a.bin", "metadata": map[string]any{"size": 1}}
		u.json(200, "POST", "/multipart", create, nil)
		a.expect(200, "POST", "/v1/tokens/"+id+"/rotate", map[string]any{"grace_seconds": 0})
		if status, body := u.call("POST", "/multipart", create); status != 401 || !strings.Contains(string(body), "rotated out") {
			t.Fatalf("a ticket of a secret rotated out without grace: %d %s", status, body)
		}
	})

	t.Run("a retirement holds on the next request", func(t *testing.T) {
		u := a.ticket(0)
		create := map[string]any{"filename": "r.bin", "metadata": map[string]any{"size": 1}}
		u.json(200, "POST", "/multipart", create, nil)
		if _, err := e.srv.Deps.Ring("ticket").Rotate(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		if status, _ := u.call("POST", "/multipart", create); status != 401 {
			t.Fatalf("a ticket of a retired key, right after the retirement: %d", status)
		}
		next := a.ticket(0)
		if keyID(next.endpoint) == keyID(u.endpoint) {
			t.Fatal("a ticket minted right after the retirement is signed by the retired key")
		}
		next.json(200, "POST", "/multipart", create, nil)
	})

	t.Run("write-only completions carry no file metadata", func(t *testing.T) {
		f := a.upload("known.txt", []byte("v1"), nil)
		w := e.tokenClient(t, a, "files:write")
		s := w.open("known.txt", 2, map[string]any{"file_uuid": f["uuid"]})
		w.putParts([]byte("v2"), 2, partsOf(s))
		id := s["id"].(string)
		done := w.expect(200, "POST", "/v1/sessions/"+id+"/complete", map[string]any{})
		st := w.expect(200, "GET", "/v1/sessions/"+id, nil)["file"].(map[string]any)
		for _, got := range []map[string]any{done, st} {
			for _, k := range []string{"created_by", "created_at", "id", "version_count", "updated_by", "_links"} {
				if _, ok := got[k]; ok {
					t.Fatalf("a write-only token read %s of a file it did not create: %v", k, got)
				}
			}
			if got["uuid"] != f["uuid"] || got["version_uuid"] != s["version_uuid"] || got["size"] != float64(2) {
				t.Fatalf("the receipt: %v", got)
			}
		}
	})

	t.Run("one validator for every user-visible string", func(t *testing.T) {
		for _, bad := range []string{"Lead\u034F", "Deal\u17B4", "a\u202Eb", "invoice" + strings.Repeat("\u2003", 30) + ".exe"} {
			problemField(t, a.do("PUT", "/v1/entities/lead/77", map[string]any{"title": bad}), 400, "title")
			problemField(t, a.do("POST", "/v1/tokens", map[string]any{"name": bad, "scopes": []string{"files:read"}}), 400, "name")
			problemField(t, a.do("POST", "/v1/webhooks", map[string]any{"url": "https://crm.example.com/h", "enabled": false, "description": bad}), 400, "description")
			problemField(t, a.do("POST", "/v1/sessions", map[string]any{"file_name": bad + ".pdf", "file_size": 1}), 400, "file_name")
		}
		a.expect(201, "PUT", "/v1/entities/lead/78", map[string]any{"title": "👩‍💻 Deal ❤️"})
		a.expect(201, "POST", "/v1/sessions", map[string]any{"file_name": "👨‍👩‍👧 family.png", "file_size": 1})
	})

	t.Run("webhook rotation as asked", func(t *testing.T) {
		h := a.expect(201, "POST", "/v1/webhooks", map[string]any{"url": "https://crm.example.com/hooks", "enabled": false})
		id := h["webhook"].(map[string]any)["id"].(string)
		problemField(t, a.do("POST", "/v1/webhooks/"+id+"/rotate", map[string]any{"bogus": 1}), 400, "bogus")
		problemField(t, a.do("POST", "/v1/webhooks/"+id+"/rotate", map[string]any{"grace_seconds": -1}), 400, "grace_seconds")
		if got := a.expect(200, "GET", "/v1/webhooks/"+id, nil); got["previous_secret_valid_until"] != nil {
			t.Fatalf("a refused rotation changed the webhook: %v", got)
		}
		r := a.expect(200, "POST", "/v1/webhooks/"+id+"/rotate", map[string]any{"grace_seconds": 0})
		if r["previous_secrets_valid"] != float64(0) || r["webhook"].(map[string]any)["previous_secret_valid_until"] != nil {
			t.Fatalf("grace 0: %v", r)
		}
		r = a.expect(200, "POST", "/v1/webhooks/"+id+"/rotate", map[string]any{"grace_seconds": 3600})
		until, _ := time.Parse(time.RFC3339, r["webhook"].(map[string]any)["previous_secret_valid_until"].(string))
		if r["previous_secrets_valid"] != float64(1) || until.Sub(e.clock.Now()) > time.Hour+time.Minute {
			t.Fatalf("grace 3600: %v", r)
		}
	})

	t.Run("companion_endpoint from the configured endpoint", func(t *testing.T) {
		req, _ := http.NewRequest("POST", a.base+"/v1/upload-tickets", strings.NewReader("{}"))
		req.Host = "evil.example"
		req.Header.Set("Authorization", "Bearer "+a.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-Proto", "javascript")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		r := response{Status: resp.StatusCode}
		r.Body, _ = io.ReadAll(resp.Body)
		if ep, _ := r.JSON()["companion_endpoint"].(string); r.Status != 201 || !strings.HasPrefix(ep, a.base+"/v1/uppy/") {
			t.Fatalf("companion_endpoint under a forged Host and X-Forwarded-Proto: %s", r)
		}
	})
}

// keyID is the id of the key that sealed a ticket in a companion endpoint.
func keyID(endpoint string) string {
	rest := endpoint[strings.Index(endpoint, "/v1/uppy/")+len("/v1/uppy/"):]
	return strings.SplitN(rest, ".", 2)[0]
}

// tokenClient mints a token with scopes in c's account.
func (e *env) tokenClient(t *testing.T, c *client, scopes ...string) *client {
	t.Helper()
	m := c.expect(201, "POST", "/v1/tokens", map[string]any{"name": "only " + strings.Join(scopes, " "), "scopes": scopes})
	return &client{t: t, base: c.base, token: m["secret"].(string), account: c.account}
}
