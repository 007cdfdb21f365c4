package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// problemField asserts a problem+json answer naming field.
func problemField(t *testing.T, r response, status int, field string) {
	t.Helper()
	if r.Status != status || r.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("want %d problem+json, got %s", status, r)
	}
	m := r.JSON()
	if field != "" && m["field"] != field {
		t.Fatalf("want field %q, got %s", field, r)
	}
}

func TestEntityDirectory(t *testing.T) {
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		lead := uuid.NewString()
		m := c.expect(201, "PUT", "/v1/entities/lead/"+lead, map[string]any{"title": "Acme Ltda", "code": 4521})
		if m["uuid"] != lead || m["code"] != 4521.0 || m["title"] != "Acme Ltda" || m["type"] != "lead" {
			t.Fatalf("created: %v", m)
		}
		// the same request again changes nothing
		m = c.expect(200, "PUT", "/v1/entities/lead/"+lead, map[string]any{"title": "Acme Ltda", "code": 4521})
		if m["code"] != 4521.0 {
			t.Fatal(m)
		}
		if m = c.expect(200, "GET", "/v1/entities/lead/4521", nil); m["uuid"] != lead {
			t.Fatalf("by code: %v", m)
		}
		// by code: a new entry with a new UUID
		m = c.expect(201, "PUT", "/v1/entities/deal/77", map[string]any{"title": "Contrato anual"})
		deal := m["uuid"].(string)
		if m["code"] != 77.0 || uuid.Validate(deal) != nil {
			t.Fatal(m)
		}
		c.expect(200, "GET", "/v1/entities/deal/"+deal, nil)
		// an entity named by UUID alone gets the next free code
		m = c.expect(201, "PUT", "/v1/entities/lead/"+uuid.NewString(), map[string]any{})
		if m["code"].(float64) < 1 || m["title"] != "" {
			t.Fatal(m)
		}
		// codes are unique per type
		other := uuid.NewString()
		problemField(t, c.do("PUT", "/v1/entities/lead/"+other, map[string]any{"code": 4521}), 409, "code")
		problemField(t, c.do("GET", "/v1/entities/lead/"+other, nil), 404, "")
		c.expect(201, "PUT", "/v1/entities/deal/4521", map[string]any{}) // another type: free
		// change a code: the old one stops resolving
		c.expect(200, "PUT", "/v1/entities/lead/"+lead, map[string]any{"code": 9000})
		problemField(t, c.do("GET", "/v1/entities/lead/4521", nil), 404, "")
		if m = c.expect(200, "GET", "/v1/entities/lead/9000", nil); m["uuid"] != lead || m["title"] != "Acme Ltda" {
			t.Fatal(m)
		}
		// bad input, nothing written
		for _, tc := range []struct {
			method, path string
			body         any
			field        string
		}{
			{"PUT", "/v1/entities/ticket/" + lead, map[string]any{}, "entity_type"},
			{"PUT", "/v1/entities/lead/not-a-uuid", map[string]any{}, "entity_id"},
			{"PUT", "/v1/entities/lead/0", map[string]any{}, "entity_id"},
			{"PUT", "/v1/entities/lead/99999999999999999999", map[string]any{}, "entity_id"},
			{"PUT", "/v1/entities/lead/" + lead, map[string]any{"title": strings.Repeat("á", 256)}, "title"},
			{"PUT", "/v1/entities/lead/" + lead, map[string]any{"title": "a\x00b"}, "title"},
			{"PUT", "/v1/entities/lead/" + lead, map[string]any{"code": -1}, "code"},
			{"PUT", "/v1/entities/lead/" + lead, map[string]any{"name": "x"}, "name"},
			{"PUT", "/v1/entities/lead/" + lead, `{"title": 5}`, "title"},
			{"PUT", "/v1/entities/deal/77", map[string]any{"code": 78}, "code"},
		} {
			problemField(t, c.do(tc.method, tc.path, tc.body), 400, tc.field)
		}
		if m = c.expect(200, "GET", "/v1/entities/lead/"+lead, nil); m["title"] != "Acme Ltda" || m["code"] != 9000.0 {
			t.Fatalf("bad input changed the entry: %v", m)
		}
		// another account sees nothing
		o := e.account(0, "")
		problemField(t, o.do("GET", "/v1/entities/lead/"+lead, nil), 404, "")
		problemField(t, o.do("GET", "/v1/entities/lead/9000", nil), 404, "")
		// scopes
		ro := e.account(0, "", "files:read")
		problemField(t, ro.do("PUT", "/v1/entities/lead/"+lead, map[string]any{}), 403, "")
	})
}

// mediaTab lists an entity's files (every page) with their attachments.
func (c *client) mediaTab(path, query string) (uuids []string, atts map[string][]map[string]any) {
	c.t.Helper()
	atts = map[string][]map[string]any{}
	cursor := ""
	for range 1000 {
		q := query
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		m := c.expect(200, "GET", path+"?"+q, nil)
		for _, x := range m["_embedded"].(map[string]any)["files"].([]any) {
			f := x.(map[string]any)
			u := f["uuid"].(string)
			uuids = append(uuids, u)
			for _, a := range f["attachments"].([]any) {
				atts[u] = append(atts[u], a.(map[string]any))
			}
		}
		next, _ := m["_page"].(map[string]any)["next_cursor"].(string)
		if next == "" {
			return uuids, atts
		}
		cursor = next
	}
	c.t.Fatal("pagination does not end")
	return nil, nil
}

func statuses(t *testing.T, m map[string]any) []string {
	t.Helper()
	var out []string
	for _, x := range m["_embedded"].(map[string]any)["attachments"].([]any) {
		out = append(out, x.(map[string]any)["status"].(string))
	}
	return out
}

func TestAttachDetachList(t *testing.T) {
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		f1 := c.upload("proposta.pdf", random(10), nil)
		f2 := c.upload("foto.jpg", random(20), nil)
		f3 := c.upload("contrato.docx", random(30), nil)
		u1, u2, u3 := f1["uuid"].(string), f2["uuid"].(string), f3["uuid"].(string)
		lead := uuid.NewString()
		path := "/v1/entities/lead/" + lead + "/files"

		// a lead the directory does not know yet is registered by attaching
		m := c.expect(200, "POST", path, map[string]any{"file_uuids": []string{u1, u2},
			"files": []map[string]any{{"file_uuid": u2, "kind": "note", "note_id": "n-1"}, {"file_uuid": u3, "kind": "field", "field_id": "contract"}}})
		if got := statuses(t, m); !slices.Equal(got, []string{"attached", "attached", "attached", "attached"}) {
			t.Fatal(got)
		}
		if ent := m["entity"].(map[string]any); ent["uuid"] != lead || ent["code"].(float64) < 1 {
			t.Fatal(ent)
		}
		// idempotent
		m = c.expect(200, "POST", path, map[string]any{"file_uuids": []string{u1, u2}})
		if got := statuses(t, m); !slices.Equal(got, []string{"already_attached", "already_attached"}) {
			t.Fatal(got)
		}
		// the Media tab: media and notes, not field values, creation order
		ids, atts := c.mediaTab(path, "order[created_at]=asc")
		if !slices.Equal(ids, []string{u1, u2}) || len(atts[u2]) != 2 || len(atts[u1]) != 1 {
			t.Fatalf("media tab: %v %v", ids, atts)
		}
		ids, atts = c.mediaTab(path, "filter[entity][kind]=field")
		if !slices.Equal(ids, []string{u3}) || atts[u3][0]["version_uuid"] != f3["version_uuid"] || atts[u3][0]["field_id"] != "contract" {
			t.Fatalf("field values: %v %v", ids, atts)
		}
		// file filters apply on the Media tab
		if ids, _ = c.mediaTab(path, "filter[extensions][]=jpg"); !slices.Equal(ids, []string{u2}) {
			t.Fatal(ids)
		}
		// the catalogue's entity filter (every kind by default)
		if ids, _ = c.walk("filter[entity][type]=lead&filter[entity][id]=" + lead); !slices.Equal(ids, []string{u3, u2, u1}) {
			t.Fatalf("filter[entity]: %v", ids)
		}
		// usages
		m = c.expect(200, "GET", "/v1/files/"+u2+"/usages", nil)
		if us := m["_embedded"].(map[string]any)["usages"].([]any); len(us) != 2 || us[0].(map[string]any)["entity"].(map[string]any)["uuid"] != lead {
			t.Fatalf("usages: %v", m)
		}
		// a new version of the field's file leaves the field pinned
		c.upload("contrato v2.docx", random(31), map[string]any{"file_uuid": u3})
		if _, atts = c.mediaTab(path, "filter[entity][kind]=field"); atts[u3][0]["version_uuid"] != f3["version_uuid"] {
			t.Fatal("field value moved with the new version")
		}
		// pin a version of another file: not found, per item
		m = c.expect(207, "POST", path, map[string]any{"files": []map[string]any{{"file_uuid": u1, "kind": "field", "field_id": "x", "version_uuid": f3["version_uuid"]}}})
		if it := m["_embedded"].(map[string]any)["attachments"].([]any)[0].(map[string]any); it["error"].(map[string]any)["status"] != 404.0 {
			t.Fatal(it)
		}
		// trashed files leave the Media tab, cannot be attached, come back on restore
		c.expect(200, "DELETE", "/v1/files", batchBody(u1))
		if ids, _ = c.mediaTab(path, ""); !slices.Equal(ids, []string{u2}) {
			t.Fatalf("trashed file listed: %v", ids)
		}
		deal := "/v1/entities/deal/" + uuid.NewString() + "/files"
		o := e.account(0, "")
		foreign := o.upload("alheio.pdf", random(5), nil)["uuid"].(string)
		m = c.expect(207, "POST", deal, map[string]any{"file_uuids": []string{u1, foreign, u2}})
		res := m["_embedded"].(map[string]any)["attachments"].([]any)
		codes := []any{res[0].(map[string]any)["error"].(map[string]any)["code"], res[1].(map[string]any)["error"].(map[string]any)["code"], res[2].(map[string]any)["status"]}
		if fmt.Sprint(codes) != "[file_trashed file_not_found attached]" {
			t.Fatal(codes)
		}
		c.expect(200, "POST", "/v1/files/restore", batchBody(u1))
		if ids, _ = c.mediaTab(path, "order[created_at]=asc"); !slices.Equal(ids, []string{u1, u2}) {
			t.Fatalf("restored file missing: %v", ids)
		}
		// detach: one kind, then every kind, then again (idempotent)
		m = c.expect(200, "DELETE", path, map[string]any{"files": []map[string]any{{"file_uuid": u2, "kind": "note", "note_id": "n-1"}}})
		if got := statuses(t, m); !slices.Equal(got, []string{"detached"}) {
			t.Fatal(got)
		}
		m = c.expect(200, "DELETE", path, map[string]any{"file_uuids": []string{u2, u1}})
		if got := statuses(t, m); !slices.Equal(got, []string{"detached", "detached"}) {
			t.Fatal(got)
		}
		m = c.expect(200, "DELETE", path, map[string]any{"file_uuids": []string{u2}})
		if got := statuses(t, m); !slices.Equal(got, []string{"not_attached"}) {
			t.Fatal(got)
		}
		if ids, _ = c.mediaTab(path, ""); len(ids) != 0 {
			t.Fatal(ids)
		}
		// purging a file removes its attachments
		c.expect(200, "DELETE", "/v1/files", batchBody(u2))
		c.expect(200, "POST", "/v1/files/purge", batchBody(u2))
		if us, err := e.srv.Deps.Store().Usages(context.Background(), c.account, u2); err != nil || len(us) != 0 {
			t.Fatalf("attachments outlived the purge: %v %v", us, err)
		}
		problemField(t, c.do("GET", "/v1/files/"+u2+"/usages", nil), 404, "")
		// another account cannot list or attach to this account's entity
		if ids, _ := o.mediaTab(path, ""); len(ids) != 0 {
			t.Fatal("foreign entity listed")
		}
		// bad input
		for _, tc := range []struct {
			body  any
			field string
		}{
			{map[string]any{}, "files"},
			{map[string]any{"file_uuids": []string{"nope"}}, "files[0].file_uuid"},
			{map[string]any{"file_uuids": []string{u1, u1}}, "files[1]"},
			{map[string]any{"files": []map[string]any{{"file_uuid": u1, "kind": "poster"}}}, "files[0].kind"},
			{map[string]any{"files": []map[string]any{{"file_uuid": u1, "kind": "note"}}}, "files[0].note_id"},
			{map[string]any{"files": []map[string]any{{"file_uuid": u1, "note_id": "x"}}}, "files[0].note_id"},
			{map[string]any{"files": []map[string]any{{"file_uuid": u1, "kind": "media", "version_uuid": u1}}}, "files[0].version_uuid"},
			{map[string]any{"files": []map[string]any{{"file_uuid": u1, "kind": "field", "field_id": "a#b"}}}, "files[0].field_id"},
			{map[string]any{"files": []map[string]any{{"file_uuid": u1, "extra": 1}}}, "files[0].extra"},
			{map[string]any{"file_uuids": make([]string, 51)}, "files"},
		} {
			problemField(t, c.do("POST", path, tc.body), 400, tc.field)
		}
		problemField(t, c.do("POST", "/v1/entities/lead/123456/files", map[string]any{"file_uuids": []string{u1}}), 404, "")
		problemField(t, c.do("GET", path+"?filter[deleted]=true", nil), 400, "filter[deleted]")
		problemField(t, c.do("GET", "/v1/files?filter[entity][id]="+lead, nil), 400, "filter[entity][type]")
		problemField(t, c.do("GET", "/v1/files?filter[entity][type]=lead&filter[entity][id]=x", nil), 400, "filter[entity][id]")
		problemField(t, c.do("GET", "/v1/files?filter[entity][type]=lead&filter[entity][id]=123456", nil), 404, "")
		ro := e.account(0, "", "files:read")
		problemField(t, ro.do("POST", path, map[string]any{"file_uuids": []string{u1}}), 403, "")
	})
}

func TestAttachAtCompletion(t *testing.T) {
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		c.expect(201, "PUT", "/v1/entities/deal/31", map[string]any{"title": "Renovação"})
		lead := uuid.NewString()
		f := c.upload("nota.pdf", random(64), map[string]any{"attach": []map[string]any{
			{"entity_type": "deal", "entity_id": "31"},
			{"entity_type": "lead", "entity_id": lead, "kind": "field", "field_id": "proposal"}}})
		u := f["uuid"].(string)
		if ids, _ := c.mediaTab("/v1/entities/deal/31/files", ""); !slices.Equal(ids, []string{u}) {
			t.Fatal(ids)
		}
		_, atts := c.mediaTab("/v1/entities/lead/"+lead+"/files", "filter[entity][kind]=field")
		if len(atts[u]) != 1 || atts[u][0]["version_uuid"] != f["version_uuid"] {
			t.Fatalf("field value at completion: %v", atts)
		}
		// a new version attached as the field's value moves the pin
		v2 := c.upload("nota v2.pdf", random(65), map[string]any{"file_uuid": u, "attach": []map[string]any{
			{"entity_type": "lead", "entity_id": lead, "kind": "field", "field_id": "proposal"}}})
		if _, atts = c.mediaTab("/v1/entities/lead/"+lead+"/files", "filter[entity][kind]=field"); atts[u][0]["version_uuid"] != v2["version_uuid"] {
			t.Fatalf("pin did not move: %v", atts)
		}
		// unknown codes and bad targets are refused at open, nothing written
		for _, tc := range []struct {
			attach any
			status int
			field  string
		}{
			{[]map[string]any{{"entity_type": "deal", "entity_id": "999"}}, 404, "attach[0].entity_id"},
			{[]map[string]any{{"entity_type": "ticket", "entity_id": "1"}}, 400, "attach[0].entity_type"},
			{[]map[string]any{{"entity_type": "deal", "entity_id": "31", "kind": "note"}}, 400, "attach[0].note_id"},
			{[]map[string]any{{"entity_type": "deal", "entity_id": "31"}, {"entity_type": "deal", "entity_id": "31"}}, 400, "attach[1]"},
			{[]map[string]any{{"entity_type": "deal"}}, 400, "attach[0].entity_id"},
			{[]map[string]any{{"entity_type": "deal", "entity_id": "31", "x": 1}}, 400, "attach[0].x"},
		} {
			problemField(t, c.do("POST", "/v1/sessions", map[string]any{"file_name": "a.pdf", "file_size": 1, "attach": tc.attach}), tc.status, tc.field)
		}
		if _, nfiles, _ := usage(t, e, c.account); nfiles != 1 {
			t.Fatalf("files: %d", nfiles)
		}
	})
}

// TestEntityListingMatchesReference compares entity listings (the filter
// and the Media tab) page by page with a brute-force reference, with small
// budgets that force multi-request and budget-limited pages, on the
// memory drivers and the embedded emulators (TestListMatchesReference
// takes moto_server).
func TestEntityListingMatchesReference(t *testing.T) {
	t.Parallel()
	testenv.On(t, []string{"memory", "embedded"}, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		n := 240
		rng := rand.New(rand.NewPCG(7, uint64(n)))
		base := time.Now().UTC()
		lead := uuid.NewString()
		kinds := map[string][]entities.Kind{} // file uuid → kinds attached
		all := seedWith(t, e, c.account, n, rng, base, func(f *files.File) []entities.Attachment {
			if rng.IntN(3) == 0 {
				return nil
			}
			var out []entities.Attachment
			for _, k := range entities.Kinds {
				if rng.IntN(2) == 0 || k == entities.KindField && len(out) == 0 {
					a := entities.Attachment{Entity: entities.Ref{Type: entities.Lead, UUID: lead}, Kind: k,
						FileUUID: f.UUID, FileCreated: f.CreatedAt, AttachedAt: base}
					if k == entities.KindField {
						a.VersionUUID = f.VersionUUID
					}
					if k != entities.KindMedia {
						a.RefID = "r-" + string(k)
					}
					out = append(out, a)
					kinds[f.UUID] = append(kinds[f.UUID], k)
				}
			}
			return out
		})
		e.budgets(40, 15)
		for i := range 30 {
			var q []string
			var want []entities.Kind
			media := i%2 == 0
			if !media {
				q = append(q, "filter[entity][type]=lead", "filter[entity][id]="+lead)
			}
			if rng.IntN(2) == 0 {
				k := entities.Kinds[rng.IntN(3)]
				q = append(q, "filter[entity][kind][]="+string(k))
				want = []entities.Kind{k}
			} else if media {
				want = entities.MediaTab
			}
			if rng.IntN(3) == 0 {
				q = append(q, "filter[extensions][]="+exts[rng.IntN(len(exts)-1)])
			}
			if rng.IntN(2) == 0 {
				q = append(q, "order[created_at]=asc")
			}
			if !media && rng.IntN(4) == 0 {
				q = append(q, "filter[deleted]=true")
			}
			if rng.IntN(4) == 0 {
				q = append(q, "filter[date][from]="+fmt.Sprint(base.Add(-30*24*time.Hour).Unix()))
			}
			q = append(q, fmt.Sprintf("limit=%d", 1+rng.IntN(30)))
			raw := strings.Join(q, "&")
			full := raw
			if media {
				full += "&filter[entity][type]=lead&filter[entity][id]=" + lead
			}
			parsed, err := catalog.ParseQuery(full, base)
			if err != nil {
				t.Fatal(err)
			}
			var pool []files.File
			for _, f := range all {
				ks, ok := kinds[f.UUID]
				if ok && (len(want) == 0 || slices.ContainsFunc(ks, func(k entities.Kind) bool { return slices.Contains(want, k) })) {
					pool = append(pool, f)
				}
			}
			wantIDs := reference(pool, parsed)
			var got []string
			if media {
				got, _ = c.mediaTab("/v1/entities/lead/"+lead+"/files", raw)
			} else {
				got, _ = c.walk(raw)
			}
			if !slices.Equal(got, wantIDs) {
				t.Fatalf("query %s: got %d files, want %d\n got %v\nwant %v", raw, len(got), len(wantIDs), got, wantIDs)
			}
		}
	})
}

// TestEntityConcurrency: concurrent creations of one entity (by code, by
// UUID through attach) leave exactly one directory entry.
func TestEntityConcurrency(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	f := c.upload("a.pdf", random(3), nil)["uuid"].(string)
	const n = 8
	type answer struct {
		status int
		uuid   string
	}
	run := func(req func(i int) response) []answer {
		out := make([]answer, n)
		done := make(chan struct{})
		for i := range n {
			go func() {
				defer func() { done <- struct{}{} }()
				r := req(i)
				m := r.JSON()
				if ent, ok := m["entity"].(map[string]any); ok {
					m = ent
				}
				u, _ := m["uuid"].(string)
				out[i] = answer{r.Status, u}
			}()
		}
		for range n {
			<-done
		}
		return out
	}
	created := 0
	answers := run(func(int) response { return c.do("PUT", "/v1/entities/deal/500", map[string]any{"title": "D"}) })
	for _, a := range answers {
		if a.status == 201 {
			created++
		} else if a.status != 200 {
			t.Fatalf("concurrent upsert: %+v", answers)
		}
		if a.uuid != answers[0].uuid {
			t.Fatalf("two entities for one code: %+v", answers)
		}
	}
	if created != 1 {
		t.Fatalf("%d creations", created)
	}
	lead := uuid.NewString()
	answers = run(func(int) response {
		return c.do("POST", "/v1/entities/lead/"+lead+"/files", map[string]any{"file_uuids": []string{f}})
	})
	for _, a := range answers {
		if a.status != 200 || a.uuid != lead {
			t.Fatalf("concurrent attach: %+v", answers)
		}
	}
	if m := c.expect(200, "GET", "/v1/entities/lead/"+lead, nil); m["code"].(float64) < 1 {
		t.Fatal(m)
	}
	if us := c.expect(200, "GET", "/v1/files/"+f+"/usages", nil)["_embedded"].(map[string]any)["usages"].([]any); len(us) != 1 {
		t.Fatalf("usages: %v", us)
	}
}
