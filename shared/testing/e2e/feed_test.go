package e2e_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// outbox counts an account's events by type, straight from the store
// (whatever their age).
func (e *env) outbox(t *testing.T, account string) map[outbox.Type]int {
	t.Helper()
	recs, _, err := e.srv.Deps.Store().Records(context.Background(), outbox.Scan{AccountID: account,
		Until: e.clock.Now().Add(1000 * time.Hour), Limit: 10000, Budget: 10000})
	if err != nil {
		t.Fatal(err)
	}
	n := map[outbox.Type]int{}
	for _, r := range recs {
		for _, ev := range r.Events {
			n[ev.Type]++
		}
	}
	return n
}

type feedEvent struct {
	ID   string         `json:"id"`
	Type string         `json:"type"`
	Time time.Time      `json:"time"`
	Data map[string]any `json:"data"`
}

// feed reads one page of the events feed.
func (c *client) feed(query url.Values) ([]feedEvent, string) {
	c.t.Helper()
	r := c.do("GET", "/v1/events?"+query.Encode(), nil)
	if r.Status != 200 {
		c.t.Fatalf("feed: %s", r)
	}
	var page struct {
		Page struct {
			Count int    `json:"count"`
			Next  string `json:"next_cursor"`
		} `json:"_page"`
		Embedded struct {
			Events []feedEvent `json:"events"`
		} `json:"_embedded"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil || page.Page.Next == "" || page.Page.Count != len(page.Embedded.Events) {
		c.t.Fatalf("feed page %s: %v", r.Body, err)
	}
	return page.Embedded.Events, page.Page.Next
}

// drain reads the feed from cursor to its end, limit events a page.
func (c *client) drain(cursor string, limit int, types ...string) ([]feedEvent, string) {
	c.t.Helper()
	var all []feedEvent
	for {
		q := url.Values{"limit": {strconv.Itoa(limit)}}
		if cursor != "" {
			q.Set("after", cursor)
		}
		for _, ty := range types {
			q.Add("type[]", ty)
		}
		evs, next := c.feed(q)
		all, cursor = append(all, evs...), next
		if len(evs) < limit {
			return all, cursor
		}
	}
}

func typesOf(evs []feedEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// payloadLinks checks what lets a receiver act without a callback: every
// file and version in an event carries its API links, and every entity
// its numeric code, title and links as the directory shows them.
func (c *client) payloadLinks(ev feedEvent) {
	c.t.Helper()
	files, _ := ev.Data["files"].([]any)
	if f, ok := ev.Data["file"]; ok {
		files = append(files, f)
	}
	for _, f := range files {
		f := f.(map[string]any)
		if l := link(f, "download"); l != "/v1/files/"+f["uuid"].(string)+"/download" || link(f, "self") != "/v1/files/"+f["uuid"].(string) {
			c.t.Fatalf("%s: the file's links %v", ev.Type, f["_links"])
		}
	}
	if v, ok := ev.Data["version"].(map[string]any); ok && link(v, "download") != "/v1/files/"+v["file_uuid"].(string)+"/download?version_uuid="+v["version_uuid"].(string) {
		c.t.Fatalf("%s: the version's links %v", ev.Type, v["_links"])
	}
	if en, ok := ev.Data["entity"].(map[string]any); ok {
		self := link(en, "self")
		r := c.do("GET", self, nil)
		var dir map[string]any
		if r.Status != 200 || json.Unmarshal(r.Body, &dir) != nil || dir["uuid"] != en["uuid"] || dir["code"] != en["code"] ||
			dir["title"] != en["title"] || link(en, "files") != self+"/files" {
			c.t.Fatalf("%s: entity %v, the directory's %s", ev.Type, en, r)
		}
	}
}

// link is the href of a payload object's link rel.
func link(obj map[string]any, rel string) string {
	l, _ := obj["_links"].(map[string]any)[rel].(map[string]any)
	h, _ := l["href"].(string)
	return h
}

// TestEventFeed runs a scripted scenario — an upload attached at
// completion, a new version, a promotion, attach and detach, trash and
// restore, a browser form upload through an Uppy ticket, a Wegly batch, an
// upload session left to expire, a purge by the sweeper — and reads the
// feed back: every change's events once, in order, with their payloads,
// served once Settle old, through cursors that split a record across
// pages, filters, and a cursor that keeps polling.
func TestEventFeed(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	ctx := context.Background()
	lead, deal := uuid.NewString(), uuid.NewString()
	// a webhook for every event, and the bus, see the same events
	r := newReceiver(t, e.clock.Now)
	c.hook(r, map[string]any{})
	c.expect(201, "PUT", "/v1/entities/lead/"+lead, map[string]any{"title": "Ana Souza", "code": 9001})
	// and an integrator's rule on the bus, for this account only
	consumer := e.busRule(t, `{"source":["anexo"],"detail":{"account_id":["`+c.account+`"]}}`)
	e.account(0, "").upload("other.bin", random(10), nil) // another account's event: not for the rule

	a := c.upload("contrato.pdf", random(100), map[string]any{"attach": []map[string]any{{"entity_type": "lead", "entity_id": lead}}})
	au := a["uuid"].(string)
	c.upload("contrato.pdf", random(120), map[string]any{"file_uuid": au})
	c.expect(200, "POST", "/v1/files/"+au+"/versions/"+a["version_uuid"].(string)+"/promote", nil)
	c.expect(200, "POST", "/v1/entities/deal/"+deal+"/files", map[string]any{"file_uuids": []string{au}})
	c.expect(200, "DELETE", "/v1/entities/lead/"+lead+"/files", map[string]any{"file_uuids": []string{au}})
	c.expect(200, "DELETE", "/v1/files", batchBody(au))
	c.expect(200, "POST", "/v1/files/restore", batchBody(au))
	c.expect(200, "DELETE", "/v1/files", batchBody(au))
	// nothing is served before it is Settle old
	if evs, _ := c.feed(url.Values{}); len(evs) != 0 {
		t.Fatalf("served before Settle: %v", typesOf(evs))
	}

	action, fields := c.ticket(0).params("foto.bin", 10)
	if status, body := postForm(t, action, fields, "foto.bin", random(10)); status >= 300 {
		t.Fatalf("form upload: %d %s", status, body)
	}
	form := c.waitFile(strings.Split(fields["key"], "/")[1])
	ct, body := multipartBody(t, [][2]string{{"crm_lead_id", lead}, {"title", "Docs"}},
		[]formFile{{"files", "a.txt", "text/plain", []byte("a")}, {"files", "b.txt", "text/plain", []byte("b")}})
	if r := c.post(batchPath, ct, body); r.Status != 201 {
		t.Fatalf("batch: %s", r)
	}
	left := c.open("left.bin", 10, nil)

	// the trash window and the session's life pass; the sweeper purges the
	// file and drops the expired session
	e.clock.Advance(catalog.TrashWindow + time.Minute)
	if err := app.Sweeper(e.srv.Function(lambdas.Sweeper))(ctx, lambdaevents.EventBridgeEvent{ID: "sweep"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(outbox.Settle)

	all, cursor := c.drain("", 3) // pages of 3 split the batch's record
	want := []string{"file.created", "file.attached", "file.version_created", "file.promoted", "file.attached", "file.detached",
		"file.trashed", "file.restored", "file.trashed", "file.created", "batch.created", "file.created", "file.created",
		"file.attached", "file.attached"}
	got := typesOf(all)
	if len(got) != len(want)+2 || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("feed = %v, want %v then the sweeper's two", got, want)
	}
	if tail := []string{got[len(want)], got[len(want)+1]}; !slices.Contains(tail, "file.purged") || !slices.Contains(tail, "session.expired") {
		t.Fatalf("the sweeper's events: %v", tail)
	}
	ids := map[string]bool{}
	for i, ev := range all {
		if ids[ev.ID] || uuid.Validate(ev.ID) != nil || i > 0 && ev.Time.Before(all[i-1].Time) {
			t.Fatalf("event %d: %+v (ids must be unique, times in order)", i, ev)
		}
		ids[ev.ID] = true
		file, _ := ev.Data["file"].(map[string]any)
		c.payloadLinks(ev)
		switch ev.Type {
		case "file.created":
			if ev.Data["version"] == nil || file == nil {
				t.Fatalf("%+v", ev)
			}
		case "file.trashed", "file.purged":
			if file["uuid"] != au || file["is_trashed"] != true {
				t.Fatalf("%+v", ev)
			}
		case "file.restored":
			if file["uuid"] != au || file["is_trashed"] != false || file["deleted_at"] != nil {
				t.Fatalf("%+v", ev)
			}
		case "file.detached":
			if ev.Data["file_uuid"] != au || ev.Data["entity"].(map[string]any)["uuid"] != lead || ev.Data["kind"] != "media" {
				t.Fatalf("%+v", ev)
			}
		case "batch.created":
			if en := ev.Data["entity"].(map[string]any); len(ev.Data["files"].([]any)) != 2 || en["type"] != "lead" || en["code"] != 9001.0 || en["title"] != "Ana Souza" {
				t.Fatalf("%+v", ev)
			}
		case "session.expired":
			if ev.Data["id"] != left["id"] || ev.Data["file_name"] != "left.bin" {
				t.Fatalf("%+v", ev)
			}
		}
	}
	if s := all[0].Data["source"]; s != "session" || all[0].Data["file"].(map[string]any)["uuid"] != au {
		t.Fatalf("first event %+v", all[0])
	}
	if f := all[9].Data["file"].(map[string]any); f["uuid"] != form["uuid"] || all[9].Data["source"] != "form" {
		t.Fatalf("the form upload's event %+v", all[9])
	}
	for _, ev := range all {
		if ev.Type == "file.purged" && ev.Data["source"] != "sweeper" {
			t.Fatalf("%+v", ev)
		}
	}

	// the webhook got each event once, signed, with the feed's id, type,
	// time and data; the bus rule's queue got each once too, as its schema
	// says
	hooked := r.waitFor(len(all))
	bus := map[string]outbox.Envelope{}
	for _, p := range consumer() {
		var env outbox.Envelope
		raw, _ := json.Marshal(p["detail"])
		at, _ := time.Parse(time.RFC3339, p["time"].(string))
		if err := json.Unmarshal(raw, &env); err != nil || p["detail-type"] != string(env.Type) || at.Sub(env.Time).Abs() >= 2*time.Second {
			t.Fatalf("bus entry %+v: %v", p, err)
		}
		if _, dup := bus[env.ID]; dup {
			t.Errorf("event %s on the bus twice", env.ID)
		}
		bus[env.ID] = env
	}
	if len(hooked) != len(all) || len(bus) != len(all) {
		t.Fatalf("%d events in the feed, %d delivered, %d on the bus", len(all), len(hooked), len(bus))
	}
	for _, ev := range all {
		d, env := hooked[ev.ID], bus[ev.ID]
		fd, _ := json.Marshal(ev.Data)
		dd, _ := json.Marshal(d.Data)
		if d.Type != ev.Type || !d.At.Equal(ev.Time) || d.AccountID != c.account || string(fd) != string(dd) ||
			string(env.Type) != ev.Type || env.AccountID != c.account {
			t.Fatalf("feed %+v, delivered %+v, on the bus %+v", ev, d, env)
		}
	}

	// the same events in one page, and filtered (a short page is no end)
	if one, _ := c.drain("", 500); !slices.Equal(typesOf(one), got) {
		t.Fatalf("one page = %v", typesOf(one))
	}
	if trashed, _ := c.drain("", 1, "file.trashed", "file.restored"); !slices.Equal(typesOf(trashed), []string{"file.trashed", "file.restored", "file.trashed"}) {
		t.Fatalf("filtered = %v", typesOf(trashed))
	}
	// since: from a time on
	if later, _ := c.feed(url.Values{"since": {all[10].Time.Format(time.RFC3339Nano)}}); len(later) != len(all)-10 || later[0].Type != "batch.created" {
		t.Fatalf("since the batch = %v", typesOf(later))
	}

	// the cursor keeps polling: nothing, then exactly the new change
	if more, _ := c.feed(url.Values{"after": {cursor}}); len(more) != 0 {
		t.Fatalf("after the end: %v", typesOf(more))
	}
	b := c.upload("b.bin", random(5), nil)
	e.clock.Advance(outbox.Settle)
	next, _ := c.feed(url.Values{"after": {cursor}})
	if len(next) != 1 || next[0].Type != "file.created" || next[0].Data["file"].(map[string]any)["uuid"] != b["uuid"] {
		t.Fatalf("after the end, one upload later: %v", typesOf(next))
	}

	// cursors are signed, bound to the account and the filter
	problemField(t, c.do("GET", "/v1/events?after="+url.QueryEscape(cursor[:len(cursor)-2]+"xx"), nil), 400, "cursor")
	other := e.account(0, "")
	problemField(t, other.do("GET", "/v1/events?after="+url.QueryEscape(cursor), nil), 400, "cursor")
	if r := c.do("GET", "/v1/events?type[]=file.created&after="+url.QueryEscape(cursor), nil); r.Status != 400 || r.JSON()["code"] != "cursor_query_mismatch" {
		t.Fatalf("another filter: %s", r)
	}
	problemField(t, c.do("GET", "/v1/events?type[]=file.renamed", nil), 400, "type[]")
	problemField(t, c.do("GET", "/v1/events?limit=501", nil), 400, "limit")
	problemField(t, c.do("GET", "/v1/events?since=yesterday", nil), 400, "since")
	problemField(t, c.do("GET", "/v1/events?cursor=x", nil), 400, "cursor")
	if evs, _ := other.feed(url.Values{}); len(evs) != 0 {
		t.Fatalf("another account sees %v", typesOf(evs))
	}
	if n := e.outbox(t, c.account); n[outbox.FileCreated] != 5 || n[outbox.FileTrashed] != 2 {
		t.Fatalf("outbox %v", n)
	}
}
