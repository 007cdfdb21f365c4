package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/domain/keyring"
	"github.com/anexo/anexo/shared/domain/relay"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// kommoPart posts one part's bytes to an upload URL, as a Kommo client does.
func (c *client) kommoPart(url string, data []byte) response {
	c.t.Helper()
	return c.post(strings.TrimPrefix(url, c.base), "application/octet-stream", data)
}

// kommoUpload sends data in parts of n bytes from a session's upload_url
// and returns the file the last part answers.
func (c *client) kommoUpload(t *testing.T, open map[string]any, data []byte, n int) map[string]any {
	t.Helper()
	url := open["upload_url"].(string)
	for off := 0; ; off += n {
		end := min(off+n, len(data))
		r := c.kommoPart(url, data[off:end])
		if r.Status != 200 {
			t.Fatalf("part at %d: %s", off, r)
		}
		m := r.JSON()
		if end == len(data) {
			return m
		}
		url = m["next_url"].(string)
	}
}

// TestKommoFilesAPI drives Kommo's Files API as a Kommo integration does,
// from the examples of Kommo's reference: open a session, every part by
// next_url, a part sent twice after a lost answer, one out of order, the
// file the last part answers, a one-byte file, a new version by
// file_uuid, the list with Kommo's filters, delete and restore, versions,
// and attach, list and detach on a lead. Every answer is checked against
// the OpenAPI document's Kommo schemas (written from Kommo's reference).
func TestKommoFilesAPI(t *testing.T) {
	t.Parallel()
	testenv.On(t, []string{"memory", "embedded"}, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "", "files:read", "files:write", "files:delete")
		data := random(20*MiB + 123)
		// The relay keyring's key is an hour from due: the session opens
		// with it, and the parts, two hours later, make the next one.
		now := e.clock.Now()
		due := keyring.Key{ID: keyring.IDAt(now.Add(-2 * keyring.RotateEvery).Truncate(keyring.RotateEvery)), Secret: random(32),
			CreatedAt: now.Add(-keyring.RotateEvery + time.Hour), VerifyUntil: now.Add(2 * 24 * time.Hour)}
		if err := e.srv.Deps.Keys().PutKey(context.Background(), app.RelayKeys, due); err != nil {
			t.Fatal(err)
		}
		open := c.expect(200, "POST", "/v1.0/sessions", map[string]any{"file_name": "contrato.pdf", "file_size": len(data), "with_preview": true})
		if open["max_part_size"].(float64) != relay.MaxPart || !strings.HasPrefix(open["upload_url"].(string), c.base+"/v1.0/sessions/upload/") {
			t.Fatalf("open = %v", open)
		}
		e.clock.Advance(2 * time.Hour)
		const kommoPart = 512 << 10 // the part size Kommo's reference shows
		url := open["upload_url"].(string)
		var file map[string]any
		for i, off := 0, 0; file == nil; i, off = i+1, off+kommoPart {
			end := min(off+kommoPart, len(data))
			r := c.kommoPart(url, data[off:end])
			if r.Status != 200 {
				t.Fatalf("part %d: %s", i, r)
			}
			switch i {
			case 9, 16: // the answer was lost: the same part again answers the same
				again := c.kommoPart(url, data[off:end])
				if again.Status != 200 || again.JSON()["session_id"] != r.JSON()["session_id"] {
					t.Fatalf("part %d again: %s", i, again)
				}
			case 20: // an old URL: refused with where to go on from
				old := c.kommoPart(open["upload_url"].(string), data[:kommoPart])
				if p := old.JSON(); old.Status != 409 || p["code"] != "part_out_of_order" || p["expected_offset"].(float64) != float64(end) {
					t.Fatalf("an old part: %s", old)
				}
				url = old.JSON()["next_url"].(string)
				continue
			}
			m := r.JSON()
			if end == len(data) {
				file = m
				break
			}
			url = m["next_url"].(string)
		}
		if file["name"] != "contrato.pdf" || file["size"].(float64) != float64(len(data)) || file["has_multiple_versions"] != false || file["type"] != "document" {
			t.Fatalf("file = %v", file)
		}
		uuid := file["uuid"].(string)
		if got, _ := c.download(uuid, ""); sum(got) != sum(data) {
			t.Fatal("the downloaded bytes differ from the uploaded")
		}
		// the last part again: the session closed itself, the same file
		if again := c.kommoPart(url, data[len(data)/kommoPart*kommoPart:]); again.Status != 200 || again.JSON()["uuid"] != uuid {
			t.Fatalf("the last part again: %s", again)
		}
		// a part over max_part_size, a part past file_size
		big := c.expect(200, "POST", "/v1.0/sessions", map[string]any{"file_name": "big.bin", "file_size": relay.MaxPart + 10})
		problemField(t, c.kommoPart(big["upload_url"].(string), make([]byte, relay.MaxPart+1)), 413, "body")
		one := c.expect(200, "POST", "/v1.0/sessions", map[string]any{"file_name": "one.txt", "file_size": 1})
		problemField(t, c.kommoPart(one["upload_url"].(string), []byte("ab")), 400, "body")
		if f := c.kommoUpload(t, one, []byte("a"), 1); f["size"].(float64) != 1 || f["name"] != "one.txt" {
			t.Fatalf("one byte: %v", f)
		}
		// a new version by file_uuid, in parts of the largest size
		v2 := random(relay.MaxPart*3 + 7)
		nv := c.expect(200, "POST", "/v1.0/sessions", map[string]any{"file_name": "contrato-v2.pdf", "file_size": len(v2), "file_uuid": uuid})
		if f := c.kommoUpload(t, nv, v2, relay.MaxPart); f["uuid"] != uuid || f["has_multiple_versions"] != true {
			t.Fatalf("new version: %v", f)
		}
		if got, _ := c.download(uuid, ""); sum(got) != sum(v2) {
			t.Fatal("the new version's bytes differ")
		}
		vs := c.expect(200, "GET", "/v1.0/files/"+uuid+"/versions", nil)
		if vs["_count"].(float64) != 2 {
			t.Fatalf("versions = %v", vs)
		}
		// Kommo's filters: extension, size in KiB units, authors
		list := func(q string) []any {
			return c.expect(200, "GET", "/v1.0/files?"+q, nil)["_embedded"].(map[string]any)["files"].([]any)
		}
		if got := list("filter[extensions][]=pdf&filter[size][from]=1024&filter[size][unit]=1024"); len(got) != 1 || got[0].(map[string]any)["uuid"] != uuid {
			t.Fatalf("pdf files over 1 MiB: %v", got)
		}
		if got := list("filter[created_by][]=-1"); len(got) != 0 {
			t.Fatalf("files by a client: %v", got)
		}
		if got := list("filter[created_by][]=0"); len(got) != 2 {
			t.Fatalf("files by a robot: %d", len(got))
		}
		// delete, list the trash, restore
		del := c.expect(200, "DELETE", "/v1.0/files", []map[string]any{{"uuid": uuid}})
		if f := del["_embedded"].(map[string]any)["files"].([]any); len(f) != 1 || f[0].(map[string]any)["is_trashed"] != true {
			t.Fatalf("delete = %v", del)
		}
		if got := list("filter[deleted]=true"); len(got) != 1 {
			t.Fatalf("trash: %v", got)
		}
		c.expect(200, "POST", "/v1.0/files/restore", []map[string]any{{"uuid": uuid}})
		if g := c.expect(200, "GET", "/v1.0/files/"+uuid, nil); g["is_trashed"] != false || g["deleted_at"] != nil {
			t.Fatalf("restored = %v", g)
		}
		// a lead's files
		lead := "/api/v4/leads/1852926/files"
		att := c.expect(200, "PUT", lead, []map[string]any{{"file_uuid": uuid}})
		if f := att["_embedded"].(map[string]any)["files"].([]any); len(f) != 1 || f[0].(map[string]any)["file_uuid"] != uuid {
			t.Fatalf("attach = %v", att)
		}
		got := c.expect(200, "GET", lead+"?limit=50", nil)["_embedded"].(map[string]any)["files"].([]any)
		if len(got) != 1 || got[0].(map[string]any)["id"] != file["id"] {
			t.Fatalf("lead files = %v", got)
		}
		c.expect(200, "DELETE", lead, []map[string]any{{"file_uuid": uuid}})
		if got := c.expect(200, "GET", lead, nil)["_embedded"].(map[string]any)["files"].([]any); len(got) != 0 {
			t.Fatalf("after detach: %v", got)
		}
		problemField(t, c.do("GET", "/api/v4/deals/1/files", nil), 400, "entity_type")
		t.Log(fmt.Sprintf("%d parts of %d KiB", (len(data)+kommoPart-1)/kommoPart, kommoPart>>10))
	})
}
