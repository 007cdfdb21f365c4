package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/keyring"
	"github.com/anexo/anexo/shared/inbound/httpapi"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// fixture names what a route's request refers to.
type fixture struct {
	file, version, session, entity, batch, token, webhook, delivery, request string
	fileID, code                                                             int64
}

func randomFixture() fixture {
	return fixture{file: uuid.NewString(), version: uuid.NewString(), session: uuid.NewString(), entity: uuid.NewString(),
		batch: uuid.NewString(), token: uuid.NewString(), webhook: uuid.NewString(), delivery: uuid.NewString(), request: uuid.NewString(),
		fileID: 987654, code: 987654}
}

// matrixRequests builds a request for every authenticated route: the
// security matrix fails when a route has none, so a new route cannot
// escape it.
var matrixRequests = map[string]func(x fixture) (path string, body any){
	"POST /v1/sessions": func(fixture) (string, any) {
		return "/v1/sessions", map[string]any{"file_name": "m.txt", "file_size": 1}
	},
	"POST /v1/upload-tickets": func(fixture) (string, any) { return "/v1/upload-tickets", map[string]any{} },
	"GET /v1/sessions/{id}":   func(x fixture) (string, any) { return "/v1/sessions/" + x.session, nil },
	"POST /v1/sessions/{id}/parts": func(x fixture) (string, any) {
		return "/v1/sessions/" + x.session + "/parts", map[string]any{"part_numbers": []int{1}}
	},
	"POST /v1/sessions/{id}/complete": func(x fixture) (string, any) { return "/v1/sessions/" + x.session + "/complete", map[string]any{} },
	"DELETE /v1/sessions/{id}":        func(x fixture) (string, any) { return "/v1/sessions/" + x.session, nil },
	"GET /v1/files":                   func(fixture) (string, any) { return "/v1/files", nil },
	"GET /v1/files/{uuid}":            func(x fixture) (string, any) { return "/v1/files/" + x.file, nil },
	"GET /v1/files/{uuid}/download":   func(x fixture) (string, any) { return "/v1/files/" + x.file + "/download", nil },
	"GET /v1/files/{uuid}/versions":   func(x fixture) (string, any) { return "/v1/files/" + x.file + "/versions", nil },
	"GET /v1/files/{uuid}/versions/{version_uuid}": func(x fixture) (string, any) {
		return "/v1/files/" + x.file + "/versions/" + x.version, nil
	},
	"POST /v1/files/{uuid}/versions/{version_uuid}/promote": func(x fixture) (string, any) {
		return "/v1/files/" + x.file + "/versions/" + x.version + "/promote", nil
	},
	"GET /v1/usage":   func(fixture) (string, any) { return "/v1/usage", nil },
	"GET /v1/account": func(fixture) (string, any) { return "/v1/account", nil },
	"PATCH /v1/account": func(fixture) (string, any) {
		return "/v1/account", map[string]any{"settings": map[string]any{"scan_pending": "block"}}
	},
	"GET /v1/events":         func(fixture) (string, any) { return "/v1/events", nil },
	"DELETE /v1/files":       func(x fixture) (string, any) { return "/v1/files", []map[string]any{{"uuid": x.file}} },
	"POST /v1/files/restore": func(x fixture) (string, any) { return "/v1/files/restore", []map[string]any{{"uuid": x.file}} },
	"POST /v1/files/purge":   func(x fixture) (string, any) { return "/v1/files/purge", []map[string]any{{"uuid": x.file}} },
	"PUT /v1/entities/{entity_type}/{entity_id}": func(x fixture) (string, any) {
		return "/v1/entities/lead/" + strconv.FormatInt(x.code, 10), map[string]any{"title": "matrix"}
	},
	"GET /v1/entities/{entity_type}/{entity_id}": func(x fixture) (string, any) { return "/v1/entities/lead/" + x.entity, nil },
	"POST /v1/entities/{entity_type}/{entity_id}/files": func(x fixture) (string, any) {
		return "/v1/entities/lead/" + uuid.NewString() + "/files", map[string]any{"file_uuids": []string{x.file}}
	},
	"DELETE /v1/entities/{entity_type}/{entity_id}/files": func(x fixture) (string, any) {
		return "/v1/entities/lead/" + uuid.NewString() + "/files", map[string]any{"file_uuids": []string{x.file}}
	},
	"GET /v1/entities/{entity_type}/{entity_id}/files": func(x fixture) (string, any) { return "/v1/entities/lead/" + x.entity + "/files", nil },
	"GET /v1/files/{uuid}/usages":                      func(x fixture) (string, any) { return "/v1/files/" + x.file + "/usages", nil },
	"POST /api/2.0/crm/{entityType}/{entityid}/files": func(x fixture) (string, any) {
		return "/api/2.0/crm/contact/" + strconv.FormatInt(x.code, 10) + "/files", map[string]any{"fileids": []int64{x.fileID}}
	},
	"POST /integrations/external/files/batches": func(fixture) (string, any) { return "/integrations/external/files/batches", map[string]any{} },
	"GET /integrations/external/files/batches/{id}": func(x fixture) (string, any) {
		return "/integrations/external/files/batches/" + x.batch, nil
	},
	"POST /v1.0/sessions": func(fixture) (string, any) {
		return "/v1.0/sessions", map[string]any{"file_name": "m.txt", "file_size": 1}
	},
	"POST /v1.0/sessions/upload/{ticket}": func(x fixture) (string, any) { return "/v1.0/sessions/upload/" + x.token, "x" },
	"GET /v1.0/files":                     func(fixture) (string, any) { return "/v1.0/files", nil },
	"GET /v1.0/files/{uuid}":              func(x fixture) (string, any) { return "/v1.0/files/" + x.file, nil },
	"GET /v1.0/files/{uuid}/versions":     func(x fixture) (string, any) { return "/v1.0/files/" + x.file + "/versions", nil },
	"DELETE /v1.0/files":                  func(x fixture) (string, any) { return "/v1.0/files", []map[string]any{{"uuid": x.file}} },
	"POST /v1.0/files/restore":            func(x fixture) (string, any) { return "/v1.0/files/restore", []map[string]any{{"uuid": x.file}} },
	"PUT /api/v4/{entity_type}/{entity_id}/files": func(x fixture) (string, any) {
		return "/api/v4/leads/" + strconv.FormatInt(x.code, 10) + "/files", []map[string]any{{"file_uuid": x.file}}
	},
	"DELETE /api/v4/{entity_type}/{entity_id}/files": func(x fixture) (string, any) {
		return "/api/v4/leads/" + strconv.FormatInt(x.code, 10) + "/files", []map[string]any{{"file_uuid": x.file}}
	},
	"GET /api/v4/{entity_type}/{entity_id}/files": func(x fixture) (string, any) {
		return "/api/v4/leads/" + strconv.FormatInt(x.code, 10) + "/files", nil
	},
	"GET /v1/tokens": func(fixture) (string, any) { return "/v1/tokens", nil },
	"POST /v1/tokens": func(fixture) (string, any) {
		return "/v1/tokens", map[string]any{"name": "m", "scopes": []string{"files:read"}}
	},
	"GET /v1/tokens/{id}":         func(x fixture) (string, any) { return "/v1/tokens/" + x.token, nil },
	"DELETE /v1/tokens/{id}":      func(x fixture) (string, any) { return "/v1/tokens/" + x.token, nil },
	"POST /v1/tokens/{id}/rotate": func(x fixture) (string, any) { return "/v1/tokens/" + x.token + "/rotate", map[string]any{} },
	"GET /v1/webhooks":            func(fixture) (string, any) { return "/v1/webhooks", nil },
	"POST /v1/webhooks": func(fixture) (string, any) {
		return "/v1/webhooks", map[string]any{"url": "https://crm.example.com/hooks", "enabled": false}
	},
	"GET /v1/webhooks/{id}":    func(x fixture) (string, any) { return "/v1/webhooks/" + x.webhook, nil },
	"PATCH /v1/webhooks/{id}":  func(x fixture) (string, any) { return "/v1/webhooks/" + x.webhook, map[string]any{"description": "m"} },
	"DELETE /v1/webhooks/{id}": func(x fixture) (string, any) { return "/v1/webhooks/" + x.webhook, nil },
	"POST /v1/webhooks/{id}/rotate": func(x fixture) (string, any) {
		return "/v1/webhooks/" + x.webhook + "/rotate", nil
	},
	"POST /v1/webhooks/{id}/test": func(x fixture) (string, any) { return "/v1/webhooks/" + x.webhook + "/test", nil },
	"POST /v1/webhooks/{id}/recover": func(x fixture) (string, any) {
		return "/v1/webhooks/" + x.webhook + "/recover", map[string]any{"since": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)}
	},
	"GET /v1/webhooks/{id}/deliveries": func(x fixture) (string, any) {
		return "/v1/webhooks/" + x.webhook + "/deliveries", nil
	},
	"POST /v1/webhooks/{id}/deliveries/{delivery}/retry": func(x fixture) (string, any) {
		return "/v1/webhooks/" + x.webhook + "/deliveries/" + x.delivery + "/retry", nil
	},
	"POST /v1/file-requests": func(x fixture) (string, any) {
		return "/v1/file-requests", map[string]any{"entity": map[string]any{"type": "deal", "id": strconv.FormatInt(x.code, 10)}, "title": "Documents"}
	},
	"GET /v1/file-requests":              func(fixture) (string, any) { return "/v1/file-requests", nil },
	"GET /v1/file-requests/{id}":         func(x fixture) (string, any) { return "/v1/file-requests/" + x.request, nil },
	"POST /v1/file-requests/{id}/revoke": func(x fixture) (string, any) { return "/v1/file-requests/" + x.request + "/revoke", nil },
	"POST /v1/file-requests/{id}/link":   func(x fixture) (string, any) { return "/v1/file-requests/" + x.request + "/link", nil },
}

// problemCode reads a problem's code, in either error shape.
func problemCode(r response) (code, required string) {
	m := r.JSON()
	if e, ok := m["error"].(map[string]any); ok { // ONLYOFFICE's envelope
		code, _ = e["type"].(string)
		return code, ""
	}
	code, _ = m["code"].(string)
	required, _ = m["required_scope"].(string)
	return code, required
}

// TestSecurityMatrix sends every authenticated route the credentials an
// attacker or a misconfigured integration would: none, malformed, unknown,
// expired, revoked, each scope alone, the wrong origin scheme or port, and
// another account's ids; no route function runs for a refused token.
func TestSecurityMatrix(t *testing.T) {
	var invocations atomic.Int64
	t.Parallel()
	e := start(t, testenv.Memory(), func(o *devserver.Options) {
		next := o.Observe
		o.Observe = func(r *http.Request, resp events.APIGatewayV2HTTPResponse) {
			invocations.Add(1)
			next(r, resp)
		}
	})
	ctx := context.Background()
	a := e.account(0, "")
	newToken := func(name string, in auth.NewToken) (*client, auth.Token) {
		in.Name = name
		if in.Scopes == nil {
			in.Scopes = auth.AllScopes
		}
		secret, tok, err := e.srv.Deps.Auth().CreateToken(ctx, a.account, in)
		if err != nil {
			t.Fatal(err)
		}
		return &client{t: t, base: a.base, token: secret}, tok
	}

	// the account's things, for the foreign-account checks
	f := a.upload("secret-name.txt", []byte("private"), nil)
	s := a.open("open.bin", 10, nil)
	ent := a.expect(201, "PUT", "/v1/entities/lead/4521", map[string]any{"title": "Lead"})
	ct, body := multipartBody(t, [][2]string{{"lead_code", "4521"}}, []formFile{{"files", "b.txt", "text/plain", []byte("b")}})
	batch := a.post("/integrations/external/files/batches", ct, body)
	if batch.Status != 201 {
		t.Fatal(batch)
	}
	_, reader := newToken("reader", auth.NewToken{Scopes: []auth.Scope{auth.ScopeRead}})
	rcv := newReceiver(t, e.clock.Now)
	hook := a.hook(rcv, map[string]any{"description": "secret-hook"})
	delivery := a.expect(200, "POST", "/v1/webhooks/"+hook["id"].(string)+"/test", nil)
	fr := a.expect(201, "POST", "/v1/file-requests", map[string]any{"entity": map[string]any{"type": "lead", "id": "4521"},
		"title": "secret-request"})["file_request"].(map[string]any)
	mine := fixture{request: fr["id"].(string), file: f["uuid"].(string), version: f["version_uuid"].(string), session: s["id"].(string),
		entity: ent["uuid"].(string), batch: batch.JSON()["id"].(string), token: reader.ID, webhook: hook["id"].(string),
		delivery: delivery["id"].(string), fileID: int64(f["id"].(float64)), code: 4521}
	leaks := []string{mine.file, mine.version, mine.session, mine.batch, mine.token, mine.webhook, mine.delivery, mine.request,
		"secret-name", "secret-hook", "secret-request"}

	for key := range matrixRequests {
		if _, ok := httpapi.Find(key); !ok {
			t.Errorf("matrix request for %s, which is no route", key)
		}
	}
	var authenticated []httpapi.Route
	for _, r := range httpapi.All() {
		if r.Public {
			continue
		}
		if matrixRequests[r.Key()] == nil {
			t.Fatalf("route %s has no request in the security matrix", r.Key())
		}
		authenticated = append(authenticated, r)
	}
	send := func(c *client, r httpapi.Route, x fixture) response {
		path, body := matrixRequests[r.Key()](x)
		return c.do(r.Method, path, body)
	}

	t.Run("refused tokens reach no function", func(t *testing.T) {
		expired, _ := newToken("expired", auth.NewToken{TTL: time.Minute})
		revoked, rt := newToken("revoked", auth.NewToken{})
		rotated, ot := newToken("rotated", auth.NewToken{})
		admin := &client{t: t, base: a.base, token: a.token}
		admin.expect(200, "DELETE", "/v1/tokens/"+rt.ID, nil)
		admin.expect(200, "POST", "/v1/tokens/"+ot.ID+"/rotate", map[string]any{"grace_seconds": 0})
		e.clock.Advance(time.Minute)
		defer e.clock.Advance(-time.Minute)
		gw := map[string]*client{
			"malformed": {t: t, base: a.base, token: "garbage"}, "short": {t: t, base: a.base, token: "anx_short"},
			"unknown": {t: t, base: a.base, token: "anx_" + strings.Repeat("A", 43)}, "basic": {t: t, base: a.base, token: "Basic abc"},
			"expired": expired, "revoked": revoked, "rotated out": rotated,
		}
		before := invocations.Load()
		x := randomFixture()
		for _, r := range authenticated {
			if got := send(&client{t: t, base: a.base}, r, x); got.Status != 401 || string(got.Body) != `{"message":"Unauthorized"}`+"\n" {
				t.Errorf("%s without a token: %s", r.Key(), got)
			}
			for name, c := range gw {
				if got := send(c, r, x); got.Status != 403 || string(got.Body) != `{"message":"Forbidden"}`+"\n" {
					t.Errorf("%s with a %s token: %s", r.Key(), name, got)
				}
			}
		}
		if n := invocations.Load() - before; n != 0 {
			t.Fatalf("%d route functions ran for refused tokens", n)
		}
	})

	t.Run("each scope alone", func(t *testing.T) {
		x := randomFixture()
		for _, sc := range auth.AllScopes {
			c, _ := newToken("only "+string(sc), auth.NewToken{Scopes: []auth.Scope{sc}})
			for _, r := range authenticated {
				got := send(c, r, x)
				code, required := problemCode(got)
				if r.Scope == sc {
					if got.Status == 401 || got.Status == 403 || got.Status >= 500 {
						t.Errorf("%s with %s (its scope): %s", r.Key(), sc, got)
					}
				} else if got.Status != 403 || code != "insufficient_scope" || required != "" && required != string(r.Scope) {
					t.Errorf("%s with %s alone: %s, want 403 insufficient_scope (%s)", r.Key(), sc, got, r.Scope)
				}
			}
		}
	})

	t.Run("origin scheme and port", func(t *testing.T) {
		c, _ := newToken("web", auth.NewToken{AllowedDomain: "https://app.example.com"})
		x := randomFixture()
		for _, r := range authenticated {
			for _, o := range []string{"http://app.example.com", "https://app.example.com:8443", "ws://app.example.com", "https://evil.example.com"} {
				c.origin = o
				if got := send(c, r, x); got.Status != 403 {
					t.Errorf("%s from %s: %s", r.Key(), o, got)
				} else if code, _ := problemCode(got); code != "origin_not_allowed" {
					t.Errorf("%s from %s: %s", r.Key(), o, got)
				}
			}
			c.origin = "https://app.example.com"
			if got := send(c, r, x); got.Status == 401 || got.Status == 403 || got.Status >= 500 {
				t.Errorf("%s from its origin: %s", r.Key(), got)
			}
		}
	})

	t.Run("a replaced secret manages nothing", func(t *testing.T) {
		// rotated with a grace period: the old secret keeps the files
		// scopes, and every route that manages tokens, webhooks or
		// tickets refuses it (the second review's token takeover)
		old, ot := newToken("rotated with grace", auth.NewToken{})
		admin := &client{t: t, base: a.base, token: a.token}
		admin.expect(200, "POST", "/v1/tokens/"+ot.ID+"/rotate", map[string]any{"grace_seconds": 600})
		x := randomFixture()
		x.token = ot.ID
		for _, r := range authenticated {
			got := send(old, r, x)
			code, _ := problemCode(got)
			switch {
			case r.Scope == auth.ScopeTokens || r.Scope == auth.ScopeWebhooks || r.Scope == auth.ScopeRequests || r.Key() == "POST /v1/upload-tickets":
				if got.Status != 403 || code != "secret_replaced" {
					t.Errorf("%s with a replaced secret: %s, want 403 secret_replaced", r.Key(), got)
				}
			case got.Status == 401 || got.Status == 403 || got.Status >= 500:
				t.Errorf("%s (files scopes) with a secret in its grace: %s", r.Key(), got)
			}
		}
		if got := admin.expect(200, "GET", "/v1/tokens/"+ot.ID, nil); got["status"] != "active" || len(got["previous_secrets"].([]any)) != 1 {
			t.Fatalf("the replaced secret changed the token: %v", got)
		}
	})

	t.Run("another account's ids", func(t *testing.T) {
		b := e.account(0, "")
		for _, r := range authenticated {
			got := send(b, r, mine)
			if err := foreignOK(got, leaks); err != nil {
				t.Errorf("%s with another account's ids: %v: %s", r.Key(), err, got)
			}
		}
		// and the account's own requests still see all of it
		if st := a.expect(200, "GET", "/v1/sessions/"+mine.session, nil); st["session"].(map[string]any)["status"] != "open" {
			t.Fatal("another account changed the session")
		}
		a.expect(200, "GET", "/v1/files/"+mine.file, nil)
		a.expect(200, "GET", "/v1/tokens/"+mine.token, nil)
		if w := a.expect(200, "GET", "/v1/webhooks/"+mine.webhook, nil); w["description"] != "secret-hook" {
			t.Fatalf("another account changed the webhook: %v", w)
		}
		// ONLYOFFICE sends the bare token, without "Bearer"
		req, _ := http.NewRequest("GET", a.base+"/v1/files/"+mine.file, nil)
		req.Header.Set("Authorization", a.token)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
			t.Fatalf("a bare token: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
	})

	t.Run("file request links", func(t *testing.T) {
		// every public route of a file request, under every link that
		// must open nothing: none, a token, an unknown, a revoked, an
		// expired link, and one whose passcode is missing or wrong
		var public []httpapi.Route
		for _, r := range httpapi.All() {
			if r.Public && strings.HasPrefix(r.Path, httpapi.PublicRequestPath) {
				public = append(public, r)
			}
		}
		if len(public) != 6 {
			t.Fatalf("%d public file request routes", len(public))
		}
		made := func(body map[string]any) (string, string) {
			body["entity"], body["title"] = map[string]any{"type": "lead", "id": "4521"}, "matrix"
			out := a.expect(201, "POST", "/v1/file-requests", body)
			return out["file_request"].(map[string]any)["id"].(string), out["link"].(map[string]any)["secret"].(string)
		}
		id, revoked := made(map[string]any{})
		a.expect(200, "POST", "/v1/file-requests/"+id+"/revoke", nil)
		_, expiring := made(map[string]any{"expires_in": 3600})
		_, guarded := made(map[string]any{"passcode": "segredo-1"})
		mySession := s["id"].(string) // the account's own session
		cases := map[string]struct {
			headers map[string]string
			codes   string // the problem codes it may get
		}{
			"no link":         {nil, "missing_link"},
			"a token":         {map[string]string{httpapi.RequestHeader: a.token}, "request_not_found"},
			"an unknown link": {map[string]string{httpapi.RequestHeader: "anr_" + strings.Repeat("A", 43)}, "request_not_found"},
			"a revoked link":  {map[string]string{httpapi.RequestHeader: revoked}, "request_revoked"},
			"no passcode":     {map[string]string{httpapi.RequestHeader: guarded}, "passcode_required"},
			// the sixth wrong passcode finds the link locked
			"a wrong passcode": {map[string]string{httpapi.RequestHeader: guarded, httpapi.PasscodeHeader: "not-it"}, "passcode_wrong passcode_locked"},
		}
		send := func(c *client, r httpapi.Route) response {
			path := strings.ReplaceAll(r.Path, "{id}", mySession)
			var body any
			switch {
			case strings.HasSuffix(path, "/parts"):
				body = map[string]any{"part_numbers": []int{1}}
			case strings.HasSuffix(path, "/complete"):
				body = map[string]any{}
			case r.Method == "POST":
				body = map[string]any{"file_name": "x.txt", "file_size": 1}
			}
			return c.do(r.Method, path, body)
		}
		for name, tc := range cases {
			c := &client{t: t, base: a.base, headers: tc.headers}
			for _, r := range public {
				got := send(c, r)
				if code, _ := got.JSON()["code"].(string); code == "" || !slices.Contains(strings.Fields(tc.codes), code) || got.Status < 400 {
					t.Errorf("%s with %s: %s, want %s", r.Key(), name, got, tc.codes)
				}
			}
		}
		// a live link reaches none of the account's sessions, and its
		// expiry ends it on every route
		live := &client{t: t, base: a.base, headers: map[string]string{httpapi.RequestHeader: expiring}}
		for _, r := range public {
			if strings.Contains(r.Path, "{id}") {
				if got := send(live, r); got.Status != 404 || got.JSON()["code"] != "session_not_found" {
					t.Errorf("%s on the account's own session: %s", r.Key(), got)
				}
			}
		}
		e.clock.Advance(time.Hour)
		defer e.clock.Advance(-time.Hour)
		for _, r := range public {
			if got := send(live, r); got.Status != 410 || got.JSON()["code"] != "request_expired" {
				t.Errorf("%s past the link's expiry: %s", r.Key(), got)
			}
		}
	})
}

// foreignOK accepts what another account may get for this account's ids:
// 404, a 207 whose every item failed with 404, or an answer (or a 400)
// that mentions none of them.
func foreignOK(r response, leaks []string) error {
	switch {
	case r.Status == 404:
		return nil
	case r.Status >= 300 && r.Status != 207 && r.Status != 400: // 400: refused before any lookup
		return fmt.Errorf("status %d", r.Status)
	}
	var items []map[string]any
	m := r.JSON()
	if emb, ok := m["_embedded"].(map[string]any); ok && r.Status == 207 {
		for _, v := range emb {
			list, _ := v.([]any)
			for _, it := range list {
				items = append(items, it.(map[string]any))
			}
		}
	} else if r.Status == 207 {
		var list []map[string]any
		_ = json.Unmarshal(r.Body, &list)
		items = list
	}
	if r.Status == 207 {
		for _, it := range items {
			e, _ := it["error"].(map[string]any)
			if e == nil || e["status"] != float64(404) {
				return fmt.Errorf("an item did not fail with 404: %v", it)
			}
		}
		return nil
	}
	for _, l := range leaks {
		if strings.Contains(string(r.Body), l) {
			return fmt.Errorf("the answer mentions %s", l)
		}
	}
	return nil
}

// TestTokenLifecycle runs the token routes end to end: minting (and its
// validation), last use, rotation with a grace period, revocation, and
// upload tickets, which never outlive the token that minted them.
func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	a := e.account(0, "")
	// validation names the field
	for field, body := range map[string]map[string]any{
		"name":           {"scopes": []string{"files:read"}},
		"scopes":         {"name": "x", "scopes": []string{}},
		"scopes[1]":      {"name": "x", "scopes": []string{"files:read", "files:admin"}},
		"allowed_domain": {"name": "x", "scopes": []string{"files:read"}, "allowed_domain": "http://crm.example.com"},
		"ttl_seconds":    {"name": "x", "scopes": []string{"files:read"}, "ttl_seconds": 1},
	} {
		problemField(t, a.do("POST", "/v1/tokens", body), 400, field)
	}
	problemField(t, a.do("POST", "/v1/tokens/"+uuid.NewString()+"/rotate", map[string]any{"grace_seconds": 700000}), 400, "grace_seconds")
	problemField(t, a.do("GET", "/v1/tokens/not-a-uuid", nil), 400, "id")

	// a writer that expires in 10 minutes: its tickets end with it
	web := a.expect(201, "POST", "/v1/tokens", map[string]any{"name": "web", "scopes": []string{"files:read"},
		"allowed_domain": "HTTPS://CRM.example.com:443/"})["token"].(map[string]any)
	if web["allowed_domain"] != "https://crm.example.com" {
		t.Fatalf("origin not normalized: %v", web)
	}
	m := a.expect(201, "POST", "/v1/tokens", map[string]any{"name": "uploader", "scopes": []string{"files:write"}, "ttl_seconds": 600})
	tok := m["token"].(map[string]any)
	id := tok["id"].(string)
	if tok["status"] != "active" || tok["last_used_at"] != nil || tok["created_by"] == nil {
		t.Fatalf("minted: %v", tok)
	}
	w := &client{t: t, base: a.base, token: m["secret"].(string)}
	tm := w.expect(201, "POST", "/v1/upload-tickets", map[string]any{"ttl_seconds": 3600})
	exp, _ := time.Parse(time.RFC3339, tm["expires_at"].(string))
	if until := time.Until(exp); until > 11*time.Minute {
		t.Fatalf("a ticket outlives its token: expires in %v", until)
	}
	u := w.ticket(0)
	create := map[string]any{"filename": "a.bin", "metadata": map[string]any{"size": 1}}
	u.json(200, "POST", "/multipart", create, nil)
	got := a.expect(200, "GET", "/v1/tokens/"+id, nil)
	if got["last_used_at"] == nil {
		t.Fatalf("no last use recorded: %v", got)
	}
	// rotation: the old secret works through its grace, its tickets keep
	// working, but it mints no more (only the current secret manages)
	r := a.expect(200, "POST", "/v1/tokens/"+id+"/rotate", map[string]any{"grace_seconds": 60})
	prev := r["token"].(map[string]any)["previous_secrets"].([]any)
	if len(prev) != 1 || r["secret"] == m["secret"] {
		t.Fatalf("rotated: %v", r)
	}
	if r := w.do("POST", "/v1/upload-tickets", map[string]any{}); r.Status != 403 || r.JSON()["code"] != "secret_replaced" {
		t.Fatalf("a replaced secret minted a ticket: %s", r)
	}
	(&client{t: t, base: a.base, token: r["secret"].(string)}).expect(201, "POST", "/v1/upload-tickets", map[string]any{})
	u.json(200, "POST", "/multipart", create, nil)
	e.clock.Advance(61 * time.Second)
	if r := w.do("POST", "/v1/sessions", map[string]any{"file_name": "late.bin", "file_size": 1}); r.Status != 403 {
		t.Fatalf("a secret past its grace: %s", r)
	}
	if status, _ := u.call("POST", "/multipart", create); status != 401 {
		t.Fatalf("a ticket of a secret past its grace: %d", status)
	}
	e.clock.Advance(-61 * time.Second)
	// revocation ends the ticket minted before it, at once
	a.expect(200, "DELETE", "/v1/tokens/"+id, nil)
	status, body := u.call("POST", "/multipart", create)
	if status != 401 || !strings.Contains(string(body), "revoked or expired") {
		t.Fatalf("a ticket of a revoked token: %d %s", status, body)
	}
	if again := a.expect(200, "DELETE", "/v1/tokens/"+id, nil); again["status"] != "revoked" {
		t.Fatalf("revoking twice: %v", again)
	}
	if r := a.do("POST", "/v1/tokens/"+id+"/rotate", map[string]any{}); r.Status != 409 {
		t.Fatalf("rotating a revoked token: %s", r)
	}
	// an expired token's tickets stop too
	m = a.expect(201, "POST", "/v1/tokens", map[string]any{"name": "short", "scopes": []string{"files:write"}, "ttl_seconds": 120})
	u = (&client{t: t, base: a.base, token: m["secret"].(string)}).ticket(0)
	e.clock.Advance(3 * time.Minute)
	defer e.clock.Advance(-3 * time.Minute)
	if status, _ := u.call("POST", "/multipart", create); status != 401 {
		t.Fatalf("a ticket of an expired token: %d", status)
	}
	list := a.expect(200, "GET", "/v1/tokens", nil)["tokens"].([]any)
	seen := map[string]string{}
	for _, x := range list {
		v := x.(map[string]any)
		seen[v["name"].(string)] = v["status"].(string)
	}
	if seen["uploader"] != "revoked" || seen["short"] != "expired" || seen["web"] != "active" || list[0].(map[string]any)["status"] != "active" {
		t.Fatalf("listed: %v", seen)
	}
}

// TestDownloadsNeverRenderActiveContent: whatever type the uploader
// declared, HTML, SVG and unknown types come as attachments of type
// application/octet-stream; safe types inline when asked.
func TestDownloadsNeverRenderActiveContent(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	for _, tc := range []struct{ name, ctype, disp, served string }{
		{"page.html", "text/html", "attachment", "application/octet-stream"},
		{"logo.svg", "image/svg+xml", "attachment", "application/octet-stream"},
		{"x.xhtml", "application/xhtml+xml", "attachment", "application/octet-stream"},
		{"doc.pdf", "application/pdf", "inline", "application/pdf"},
		{"pic.png", "image/png", "inline", "image/png"},
	} {
		f := c.upload(tc.name, []byte("<svg onload=alert(1)>"), map[string]any{"content_type": tc.ctype})
		_, h := c.download(f["uuid"].(string), "?disposition=inline")
		if !strings.HasPrefix(h.Get("Content-Disposition"), tc.disp+";") || h.Get("Content-Type") != tc.served {
			t.Errorf("%s (%s) inline: %q %q", tc.name, tc.ctype, h.Get("Content-Disposition"), h.Get("Content-Type"))
		}
		r := c.do("GET", "/v1/files/"+f["uuid"].(string), nil)
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("API answers: %v", r.Header)
		}
	}
}

// TestLocalS3RefusesStrangers: the embedded S3 takes only this process's
// random credentials (not the fixed keys earlier versions used), and its
// CORS admits the upload page's origin only.
func TestLocalS3RefusesStrangers(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	s := c.open("cors.bin", 5, nil)
	partURL := partsOf(s)[0].URL
	preflight := func(origin string) http.Header {
		req, _ := http.NewRequest("OPTIONS", partURL, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "PUT")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header
	}
	for _, origin := range []string{c.base, strings.Replace(c.base, "127.0.0.1", "localhost", 1)} {
		if got := preflight(origin).Get("Access-Control-Allow-Origin"); got != origin && got != "*" {
			t.Errorf("the page's origin %s: Access-Control-Allow-Origin %q", origin, got)
		}
	}
	for _, origin := range []string{"http://evil.example", "http://127.0.0.1:1", "null"} {
		if got := preflight(origin).Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("foreign origin %s admitted: %q", origin, got)
		}
	}
	ak, _ := devserver.S3Credentials()
	if ak == "" || ak == "anexo-local" {
		t.Fatalf("embedded S3 access key %q", ak)
	}
	// a client with the fixed keys of old is refused
	cfg := testenv.Config(testenv.Backend{Dynamo: e.srv.Deps.Cfg.DynamoEndpoint, S3: e.srv.Deps.Cfg.S3Endpoint,
		AccessKey: "anexo-local", SecretKey: "anexo-local-secret-key"})
	stranger := testenv.ConnectDynamo(t, cfg).S3()
	_, err := stranger.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err == nil { // versitygw answers XAdminUserNotFound
		t.Fatal("the fixed credentials of old listed the buckets")
	}
}

// TestCursorKeysRotate: the first function to sign a cursor creates the
// cursor key (here the attachments function), the other uses it; a period
// later the next signer writes the next key, and a cursor signed before
// the rotation still pages on. A retirement ends it.
func TestCursorKeysRotate(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	a := c.upload("a.txt", []byte("a"), nil)
	b := c.upload("b.txt", []byte("b"), nil)
	lead := "/v1/entities/lead/" + uuid.NewString()
	c.expect(200, "POST", lead+"/files", map[string]any{"file_uuids": []string{a["uuid"].(string), b["uuid"].(string)}})
	page := c.expect(200, "GET", lead+"/files?limit=1", nil)
	entityCursor := page["_page"].(map[string]any)["next_cursor"].(string)
	page = c.expect(200, "GET", "/v1/files?limit=1", nil)
	filesCursor := page["_page"].(map[string]any)["next_cursor"].(string)
	if strings.SplitN(entityCursor, ".", 2)[0] != strings.SplitN(filesCursor, ".", 2)[0] {
		t.Fatal("the two functions sign with different keys")
	}
	keyOf := func(cursor string) string { return strings.SplitN(cursor, ".", 2)[0] }
	// an hour before the key's period ends: still the same key
	e.clock.Advance(keyring.RotateEvery - time.Hour)
	defer e.clock.Advance(-keyring.RotateEvery + time.Hour)
	before := c.expect(200, "GET", "/v1/files?limit=1", nil)["_page"].(map[string]any)["next_cursor"].(string)
	if keyOf(before) != keyOf(filesCursor) {
		t.Fatal("a new key before the period ended")
	}
	// two hours later the next signer writes the next key; the cursor
	// signed an hour before the rotation still pages on
	e.clock.Advance(2 * time.Hour)
	defer e.clock.Advance(-2 * time.Hour)
	next := c.expect(200, "GET", "/v1/files?limit=1", nil)["_page"].(map[string]any)["next_cursor"].(string)
	if keyOf(next) == keyOf(before) {
		t.Fatal("no new key a period later")
	}
	c.expect(200, "GET", "/v1/files?limit=1&cursor="+before, nil)
	c.expect(200, "GET", "/v1/files?limit=1&cursor="+next, nil)
	if r := c.do("GET", lead+"/files?limit=1&cursor="+next, nil); r.JSON()["code"] != "cursor_query_mismatch" {
		t.Fatalf("a cursor of another query (same key, so it verifies): %s", r) // the attachments function reads the new key too
	}
	// an operator's retirement ends every cursor at once: the next
	// request of a warm function refuses them
	if _, err := e.srv.Deps.Ring("cursor").Rotate(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	for _, cur := range []string{before, next} {
		if r := c.do("GET", "/v1/files?limit=1&cursor="+cur, nil); r.Status != 400 || r.JSON()["code"] != "invalid_cursor" {
			t.Fatalf("a cursor of a retired key: %s", r)
		}
	}
}

// TestEdgeOriginCheck: with the stack's edge on (an origin secret), a
// request that did not come through CloudFront is refused before a token
// is looked up or a route runs: without X-Origin-Verify the gateway
// answers 401 itself (an identity source missing), with a wrong one the
// authorizer denies it (403), and a public route answers 403
// origin_forbidden. With the secret, everything works as before.
func TestEdgeOriginCheck(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory(), func(o *devserver.Options) { o.Config.OriginSecret = "edge-secret" })
	c := e.account(0, "")
	anon := &client{t: t, base: e.srv.URL}
	if r := c.do("GET", "/v1/usage", nil); r.Status != 401 {
		t.Fatalf("without the origin header: %s", r)
	}
	c.headers = map[string]string{httpapi.OriginHeader: "edge-guess"}
	if r := c.do("GET", "/v1/usage", nil); r.Status != 403 {
		t.Fatalf("with a wrong origin header: %s", r)
	}
	for _, h := range []map[string]string{nil, {httpapi.OriginHeader: "edge-guess"}} {
		anon.headers = h
		if r := anon.do("GET", "/v1/openapi.json", nil); r.Status != 403 || r.JSON()["code"] != "origin_forbidden" {
			t.Fatalf("a public route around the edge (%v): %s", h, r)
		}
	}
	c.headers = map[string]string{httpapi.OriginHeader: "edge-secret"}
	anon.headers = c.headers
	c.expect(200, "GET", "/v1/usage", nil)
	if r := anon.do("GET", "/v1/openapi.json", nil); r.Status != 200 {
		t.Fatalf("a public route through the edge: %s", r)
	}
}

// TestRouteThrottles: local mode throttles each route as the stage's route
// settings do (httpapi.Throttles, a token bucket per route, 429 before the
// authorizer). One account flooding a route (GET /v1/tokens, 50 a second,
// burst 100) is refused past the bucket, while another account's uploads
// on their own routes all go through (a second of flooding from 8
// clients). (The bucket is the route's, shared
// by every caller: what isolates one tenant from another on the same
// route is the edge's WAF rate rule per token.)
func TestRouteThrottles(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	flooder, other := e.account(0, ""), e.account(0, "")
	th := httpapi.Throttles[lambdas.Tokens]
	var admitted, refused atomic.Int64
	begin := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for time.Since(begin) < time.Second {
				switch r := flooder.do("GET", "/v1/tokens", nil); r.Status {
				case 200:
					admitted.Add(1)
				case 429:
					refused.Add(1)
					if strings.TrimSpace(string(r.Body)) != `{"message":"Too Many Requests"}` {
						t.Errorf("a throttled answer: %s", r)
					}
				default:
					t.Errorf("flood: %s", r)
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	uploads := 0
	for flooding := true; flooding; {
		select {
		case <-done:
			flooding = false
		default:
		}
		other.upload("while-flooded.txt", random(100), nil) // fails the test on any refusal
		uploads++
	}
	elapsed := time.Since(begin).Seconds()
	if most := th.Burst + th.Rate*elapsed + 1; refused.Load() == 0 || float64(admitted.Load()) > most {
		t.Fatalf("%d admitted, %d refused in %.2f s; at most %.0f admitted", admitted.Load(), refused.Load(), elapsed, most)
	}
	t.Logf("flood on GET /v1/tokens: %d admitted, %d refused (429) in %.2f s; the other account's %d uploads all went through",
		admitted.Load(), refused.Load(), elapsed, uploads)
}
