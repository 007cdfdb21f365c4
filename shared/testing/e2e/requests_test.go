package e2e_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/domain/requests"
	"github.com/anexo/anexo/shared/inbound/httpapi"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// outsider is the person a request's link was sent to: no token, the
// link's secret (and the passcode) in their headers.
func (c *client) outsider(secret, passcode string) *client {
	o := &client{t: c.t, base: c.base, headers: map[string]string{httpapi.RequestHeader: secret}}
	if passcode != "" {
		o.headers[httpapi.PasscodeHeader] = passcode
	}
	return o
}

// request makes a file request and returns it with its link's secret.
func (c *client) request(body map[string]any) (map[string]any, string) {
	c.t.Helper()
	out := c.expect(201, "POST", "/v1/file-requests", body)
	link := out["link"].(map[string]any)
	return out["file_request"].(map[string]any), link["secret"].(string)
}

// send uploads data through a request's link, into slot, as a browser
// does (presigned parts), and returns the completion's answer.
func (c *client) send(slot, name string, data []byte, uploader map[string]any) map[string]any {
	c.t.Helper()
	body := map[string]any{"slot": slot, "file_name": name, "file_size": len(data)}
	if uploader != nil {
		body["uploader"] = uploader
	}
	s := c.expect(201, "POST", httpapi.PublicRequestPath+"/uploads", body)
	id := s["id"].(string)
	if self := s["_links"].(map[string]any)["self"].(map[string]any)["href"]; self != httpapi.PublicRequestPath+"/uploads/"+id {
		c.t.Fatalf("a public session's self link: %v", self)
	}
	c.putParts(data, int64(s["part_size"].(float64)), partsOf(s))
	return c.expect(200, "POST", httpapi.PublicRequestPath+"/uploads/"+id+"/complete", nil)
}

func problem(t *testing.T, r response, status int, code, field string) {
	t.Helper()
	m := r.JSON()
	if r.Status != status || m["code"] != code || field != "" && m["field"] != field || r.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("got %s, want %d %s (field %q)", r, status, code, field)
	}
}

// TestFileRequests, on the memory drivers: a request for a deal with two
// required slots and a passcode; the link's page, its passcode (and the
// lockout after five wrong ones), wrong types, sizes and slots refused
// before any byte moves, two files sent through the link with real
// presigned parts, attached to the deal's Media tab under the sender's
// name; a link reaches its own uploads only; a new link ends the old one;
// revocation and expiry end the link.
func TestFileRequests(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	c.expect(201, "PUT", "/v1/entities/deal/9001", map[string]any{"title": "Venda apto 302"})

	t.Run("bad input names its field", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"no entity", map[string]any{"title": "x"}, "entity_type"},
			{"bad entity type", map[string]any{"entity": map[string]any{"type": "ship", "id": "1"}, "title": "x"}, "entity_type"},
			{"no title", map[string]any{"entity": map[string]any{"type": "deal", "id": "9001"}}, "title"},
			{"bad accept", map[string]any{"entity": map[string]any{"type": "deal", "id": "9001"}, "title": "x",
				"slots": []any{map[string]any{"name": "RG", "accept": []string{"pdf files"}}}}, "slots[0].accept[0]"},
			{"duplicate slot", map[string]any{"entity": map[string]any{"type": "deal", "id": "9001"}, "title": "x",
				"slots": []any{map[string]any{"name": "RG"}, map[string]any{"name": "rg"}}}, "slots[1].name"},
			{"short passcode", map[string]any{"entity": map[string]any{"type": "deal", "id": "9001"}, "title": "x", "passcode": "123"}, "passcode"},
			{"expiry too far", map[string]any{"entity": map[string]any{"type": "deal", "id": "9001"}, "title": "x", "expires_in": 100 * 86400}, "expires_in"},
			{"unknown deal code", map[string]any{"entity": map[string]any{"type": "deal", "id": "777"}, "title": "x"}, "entity_id"},
		} {
			r := c.do("POST", "/v1/file-requests", tc.body)
			if m := r.JSON(); r.Status/100 != 4 || m["field"] != tc.field {
				t.Errorf("%s: %s, want field %s", tc.name, r, tc.field)
			}
		}
		if got := c.expect(200, "GET", "/v1/file-requests", nil)["_embedded"].(map[string]any)["file_requests"].([]any); len(got) != 0 {
			t.Fatalf("refused requests left %d behind", len(got))
		}
	})

	fr, secret := c.request(map[string]any{"entity": map[string]any{"type": "deal", "id": "9001"}, "title": "Documentos para a venda",
		"message": "Olá Maria,\nenvie os documentos abaixo.", "passcode": "segredo1",
		"slots": []any{
			map[string]any{"name": "RG", "required": true, "accept": []string{".pdf", "image/*"}, "max_size": 8 << 20},
			map[string]any{"name": "Comprovante de residência", "required": true, "accept": []string{".pdf"}},
			map[string]any{"name": "Outros", "max_files": 2},
		}})
	id := fr["id"].(string)
	if !regexp.MustCompile(`^anr_[A-Za-z0-9_-]{43}$`).MatchString(secret) || fr["status"] != "open" || fr["passcode"] != true {
		t.Fatalf("a new request: %v (secret %q)", fr, secret)
	}
	if got := c.expect(200, "POST", "/v1/file-requests/"+id+"/link", nil); got["link"].(map[string]any)["url"] != e.srv.URL+"/request.html#"+got["link"].(map[string]any)["secret"].(string) {
		t.Fatalf("a new link's url: %v", got["link"])
	} else {
		problem(t, c.outsider(secret, "segredo1").do("GET", httpapi.PublicRequestPath, nil), 404, "request_not_found", "")
		secret = got["link"].(map[string]any)["secret"].(string)
	}

	t.Run("the passcode, and its lockout", func(t *testing.T) {
		problem(t, c.outsider(secret, "").do("GET", httpapi.PublicRequestPath, nil), 401, "passcode_required", "passcode")
		r := c.outsider(secret, "wrong-one").do("GET", httpapi.PublicRequestPath, nil)
		problem(t, r, 401, "passcode_wrong", "passcode")
		if r.JSON()["attempts_left"] != float64(requests.MaxFailures-1) {
			t.Fatalf("attempts left: %s", r)
		}
		problem(t, (&client{t: t, base: c.base}).do("GET", httpapi.PublicRequestPath, nil), 401, "missing_link", httpapi.RequestHeader)
		problem(t, c.outsider("anr_"+strings.Repeat("A", 43), "").do("GET", httpapi.PublicRequestPath, nil), 404, "request_not_found", "")
		// a token is no link
		problem(t, c.outsider(c.token, "").do("GET", httpapi.PublicRequestPath, nil), 404, "request_not_found", "")
	})

	maria := c.outsider(secret, "segredo1")
	view := maria.expect(200, "GET", httpapi.PublicRequestPath, nil)
	if view["title"] != "Documentos para a venda" || len(view["slots"].([]any)) != 3 || view["entity"] != nil {
		t.Fatalf("the public view: %v", view)
	}

	t.Run("refused before any byte moves", func(t *testing.T) {
		open := func(body map[string]any) response {
			return maria.do("POST", httpapi.PublicRequestPath+"/uploads", body)
		}
		problem(t, open(map[string]any{"slot": "RG", "file_name": "rg.exe", "file_size": 10}), 422, "type_not_accepted", "file_name")
		problem(t, open(map[string]any{"slot": "RG", "file_name": "rg.pdf", "file_size": 9 << 20}), 413, "file_too_large", "file_size")
		problem(t, open(map[string]any{"slot": "CNH", "file_name": "cnh.pdf", "file_size": 10}), 400, "invalid_request", "slot")
		problem(t, open(map[string]any{"file_name": "x.pdf", "file_size": 10}), 400, "invalid_request", "slot")
		problem(t, open(map[string]any{"slot": "RG", "file_name": "rg.pdf", "file_size": 10, "uploader": map[string]any{"email": "not an address"}}),
			400, "invalid_request", "uploader.email")
		problem(t, open(map[string]any{"slot": "RG", "file_name": "rg.pdf", "file_size": 10, "file_uuid": fr["id"]}), 400, "invalid_request", "file_uuid")
	})

	who := map[string]any{"name": "Maria Silva", "email": "maria@example.com"}
	rg := random(6 << 20)
	got := maria.send("RG", "rg.pdf", rg, who)
	if rc := got["receipt"].(map[string]any); rc["status"] != "attached" || rc["name"] != "rg.pdf" {
		t.Fatalf("the RG's receipt: %v", got)
	}
	if got["file_request"].(map[string]any)["status"] != "open" {
		t.Fatalf("one of two required slots filled: %v", got["file_request"])
	}
	problem(t, maria.do("POST", httpapi.PublicRequestPath+"/uploads", map[string]any{"slot": "RG", "file_name": "rg2.pdf", "file_size": 10}),
		409, "slot_full", "slot")

	t.Run("a link reaches its own uploads only", func(t *testing.T) {
		_, other := c.request(map[string]any{"entity": map[string]any{"type": "deal", "id": "9001"}, "title": "Outro"})
		mine := maria.expect(201, "POST", httpapi.PublicRequestPath+"/uploads", map[string]any{"slot": "Outros", "file_name": "a.txt", "file_size": 3})["id"].(string)
		own := c.open("own.txt", 3, nil)["id"].(string) // the account's own session
		stranger := c.outsider(other, "")
		for _, sid := range []string{mine, own} {
			for _, r := range []response{
				stranger.do("GET", httpapi.PublicRequestPath+"/uploads/"+sid, nil),
				stranger.do("POST", httpapi.PublicRequestPath+"/uploads/"+sid+"/parts", map[string]any{"part_numbers": []int{1}}),
				stranger.do("POST", httpapi.PublicRequestPath+"/uploads/"+sid+"/complete", nil),
				stranger.do("DELETE", httpapi.PublicRequestPath+"/uploads/"+sid, nil),
			} {
				problem(t, r, 404, "session_not_found", "")
			}
		}
		problem(t, maria.do("GET", httpapi.PublicRequestPath+"/uploads/"+own, nil), 404, "session_not_found", "")
		maria.expect(204, "DELETE", httpapi.PublicRequestPath+"/uploads/"+mine, nil)
		// nothing but the public routes: the link is no token
		for _, path := range []string{"/v1/files", "/v1/file-requests", "/v1/events"} {
			if r := maria.do("GET", path, nil); r.Status != 401 {
				t.Fatalf("GET %s with a link: %s", path, r)
			}
		}
	})

	proof := []byte("%PDF-1.4 comprovante")
	done := maria.send("Comprovante de residência", "conta de luz.pdf", proof, who)
	if done["file_request"].(map[string]any)["status"] != "fulfilled" {
		t.Fatalf("both required slots filled: %v", done)
	}

	adm := c.expect(200, "GET", "/v1/file-requests/"+id, nil)
	recv := adm["received"].([]any)
	if adm["status"] != "fulfilled" || adm["fulfilled_at"] == nil || len(recv) != 2 || adm["received_bytes"] != float64(len(rg)+len(proof)) {
		t.Fatalf("the request as its account sees it: %v", adm)
	}
	for _, x := range recv {
		rc := x.(map[string]any)
		if rc["uploader"].(map[string]any)["email"] != "maria@example.com" || rc["status"] != "attached" {
			t.Fatalf("a receipt: %v", rc)
		}
	}
	uuids, _ := c.mediaTab("/v1/entities/deal/9001/files", "")
	rgUUID, proofUUID := recv[0].(map[string]any)["file_uuid"].(string), recv[1].(map[string]any)["file_uuid"].(string)
	if !slices.Contains(uuids, rgUUID) || !slices.Contains(uuids, proofUUID) {
		t.Fatalf("the deal's Media tab %v lacks the received files", uuids)
	}
	f := c.expect(200, "GET", "/v1/files/"+rgUUID, nil)
	if f["created_by"] != "Maria Silva (file request)" || f["source"] != "file_request" {
		t.Fatalf("a received file: %v", f)
	}
	v := c.expect(200, "GET", "/v1/files/"+rgUUID+"/versions/"+f["version_uuid"].(string), nil)
	if req := v["file_request"].(map[string]any); req["id"] != id || req["slot"] != "RG" || req["uploader_email"] != "maria@example.com" {
		t.Fatalf("a received version: %v", v)
	}
	if b, _ := c.download(rgUUID, ""); sum(b) != sum(rg) {
		t.Fatal("the received bytes differ")
	}
	if r := c.expect(200, "GET", "/v1/file-requests?status=fulfilled", nil); r["_page"].(map[string]any)["count"] != float64(1) {
		t.Fatalf("fulfilled requests: %v", r)
	}

	t.Run("five wrong passcodes lock the link", func(t *testing.T) {
		for range requests.MaxFailures - 1 {
			c.outsider(secret, "wrong-one").do("GET", httpapi.PublicRequestPath, nil)
		}
		r := maria.do("GET", httpapi.PublicRequestPath, nil)
		problem(t, r, 429, "passcode_locked", "")
		if r.Header.Get("Retry-After") == "" {
			t.Fatalf("a lockout without Retry-After: %s", r)
		}
		e.clock.Advance(requests.FailureWindow)
		maria.expect(200, "GET", httpapi.PublicRequestPath, nil)
	})

	t.Run("a link opens so many uploads an hour", func(t *testing.T) {
		_, busy := c.request(map[string]any{"entity": map[string]any{"type": "deal", "id": "9001"}, "title": "Fotos", "max_files": 2})
		o := c.outsider(busy, "")
		for i := range 50 {
			o.expect(201, "POST", httpapi.PublicRequestPath+"/uploads", map[string]any{"file_name": "f" + strconv.Itoa(i) + ".jpg", "file_size": 1})
		}
		r := o.do("POST", httpapi.PublicRequestPath+"/uploads", map[string]any{"file_name": "one-more.jpg", "file_size": 1})
		problem(t, r, 429, "request_busy", "")
		if r.Header.Get("Retry-After") == "" {
			t.Fatalf("no Retry-After: %s", r)
		}
		e.clock.Advance(requests.OpenWindow)
		o.expect(201, "POST", httpapi.PublicRequestPath+"/uploads", map[string]any{"file_name": "next-hour.jpg", "file_size": 1})
	})

	t.Run("revoked and expired links show nothing", func(t *testing.T) {
		_, soon := c.request(map[string]any{"entity": map[string]any{"type": "lead", "id": "3c90c3cc-0d44-4b50-8888-8dd25736052a"}, "title": "Contrato",
			"expires_in": 3600})
		c.outsider(soon, "").expect(200, "GET", httpapi.PublicRequestPath, nil)
		e.clock.Advance(time.Hour)
		problem(t, c.outsider(soon, "").do("GET", httpapi.PublicRequestPath, nil), 410, "request_expired", "")

		rv := c.expect(200, "POST", "/v1/file-requests/"+id+"/revoke", nil)
		if rv["status"] != "revoked" || rv["revoked_at"] == nil {
			t.Fatalf("revoked: %v", rv)
		}
		c.expect(200, "POST", "/v1/file-requests/"+id+"/revoke", nil) // again: nothing changes
		problem(t, maria.do("GET", httpapi.PublicRequestPath, nil), 410, "request_revoked", "")
		problem(t, maria.do("POST", httpapi.PublicRequestPath+"/uploads", map[string]any{"slot": "Outros", "file_name": "late.txt", "file_size": 1}),
			410, "request_revoked", "")
		problem(t, c.do("POST", "/v1/file-requests/"+id+"/link", nil), 410, "request_revoked", "")
	})

	t.Run("another account sees none of it", func(t *testing.T) {
		b := e.account(0, "")
		problem(t, b.do("GET", "/v1/file-requests/"+id, nil), 404, "request_not_found", "")
		if got := b.expect(200, "GET", "/v1/file-requests", nil)["_embedded"].(map[string]any)["file_requests"].([]any); len(got) != 0 {
			t.Fatalf("another account lists %d requests", len(got))
		}
	})
}

// TestFileRequestScanned, on the embedded emulators with GuardDuty's
// stand-in: files received through a link wait for their verdict before
// they are attached; an EICAR file is refused and never attached; the
// request's four events reach a webhook, checked against the catalogue.
func TestFileRequestScanned(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t), withScanner(200*time.Millisecond))
	c := e.account(0, "")
	rcv := newReceiver(t, e.clock.Now)
	c.hook(rcv, map[string]any{"types": []string{"file_request.created", "file_request.file_received", "file_request.fulfilled",
		"file_request.revoked", "file.attached"}})
	fr, secret := c.request(map[string]any{"entity": map[string]any{"type": "deal", "id": "6f1c54a4-8c43-4f0b-9a53-4c1d7b1e2a10"},
		"title": "Contrato assinado", "slots": []any{map[string]any{"name": "Contrato", "required": true}, map[string]any{"name": "Anexos", "max_files": 3}}})
	id := fr["id"].(string)
	out := c.outsider(secret, "")
	bad := out.send("Anexos", "eicar.com", []byte(devserver.EICAR+"\r\n"), map[string]any{"name": "Bob"})
	if bad["receipt"].(map[string]any)["status"] != "scanning" {
		t.Fatalf("a received file before its verdict: %v", bad)
	}
	good := out.send("Contrato", "contrato.pdf", []byte("%PDF-1.7 signed"), map[string]any{"name": "Bob"})
	if good["file_request"].(map[string]any)["status"] != "open" {
		t.Fatalf("fulfilled before the verdict: %v", good)
	}
	var adm map[string]any
	for range 200 {
		adm = c.expect(200, "GET", "/v1/file-requests/"+id, nil)
		if adm["status"] == "fulfilled" && adm["received"].([]any)[0].(map[string]any)["status"] != "scanning" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	recv := adm["received"].([]any)
	if adm["status"] != "fulfilled" || recv[0].(map[string]any)["status"] != "refused" || recv[1].(map[string]any)["status"] != "attached" {
		t.Fatalf("after the verdicts: %v", adm)
	}
	uuids, _ := c.mediaTab("/v1/entities/deal/6f1c54a4-8c43-4f0b-9a53-4c1d7b1e2a10/files", "")
	if len(uuids) != 1 || uuids[0] != recv[1].(map[string]any)["file_uuid"] {
		t.Fatalf("the deal's Media tab: %v", uuids)
	}
	view := out.expect(200, "GET", httpapi.PublicRequestPath, nil)
	if st := view["slots"].([]any)[1].(map[string]any)["received"].([]any)[0].(map[string]any)["status"]; st != "refused" {
		t.Fatalf("the page's view of the infected file: %v", view)
	}
	c.expect(200, "POST", "/v1/file-requests/"+id+"/revoke", nil)
	count := map[string]int{}
	for _, d := range rcv.waitFor(6) {
		count[d.Type]++
	}
	if count["file_request.created"] != 1 || count["file_request.file_received"] != 2 || count["file_request.fulfilled"] != 1 ||
		count["file_request.revoked"] != 1 || count["file.attached"] != 1 {
		t.Fatalf("deliveries: %v", count)
	}
}

// TestReadmeFileRequest runs the README's file request block (its curl)
// as written, and the link it answers opens the request.
func TestReadmeFileRequest(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is required")
		}
		t.Skip("curl not installed")
	}
	readme, err := os.ReadFile(filepath.Join(eventsDir(), "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n### File requests\n")
	_, block, ok := strings.Cut(section, "```sh\n")
	block, _, ok2 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !strings.Contains(block, "/v1/file-requests") {
		t.Fatalf("README: no curl block under File requests:\n%s", section)
	}
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	c.expect(201, "PUT", "/v1/entities/deal/9001", map[string]any{"title": "Venda apto 302"})
	cmd := exec.Command("/bin/sh", "-e", "-c", block)
	cmd.Env = append(os.Environ(), "ANEXO_URL="+c.base, "ANEXO_TOKEN="+c.token)
	out, err := cmd.Output()
	var got struct {
		FileRequest map[string]any `json:"file_request"`
		Link        struct{ Secret, URL string }
	}
	if err != nil || json.Unmarshal(out, &got) != nil || got.FileRequest["status"] != "open" || !strings.HasSuffix(got.Link.URL, "#"+got.Link.Secret) {
		t.Fatalf("the README's block: %v\n%s", err, out)
	}
	view := c.outsider(got.Link.Secret, "segredo-1").expect(200, "GET", httpapi.PublicRequestPath, nil)
	if view["title"] != "Documentos para a venda" || len(view["slots"].([]any)) != 2 {
		t.Fatalf("the README's request: %v", view)
	}
}
