package outbox_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/keyring"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// records is an account's records in order, read as the adapters do.
type records []outbox.Record

func (o records) Records(_ context.Context, s outbox.Scan) ([]outbox.Record, string, error) {
	var out []outbox.Record
	for _, r := range o {
		if r.AccountID != s.AccountID || r.Position <= s.After || r.At.After(s.Until) || r.At.Before(s.Since) {
			continue
		}
		if len(s.Types) > 0 && !slices.ContainsFunc(r.Types(), func(t outbox.Type) bool { return slices.Contains(s.Types, t) }) {
			continue
		}
		out = append(out, r)
		if len(out) == s.Limit {
			return out, r.Position, nil
		}
	}
	return out, "", nil
}

// TestFeedPages: events come once each, in order, a page at a time — a
// record split across pages resumes where the page ended — and only once
// Settle old; filters keep to their types and their cursors; cursors are
// the account's own.
func TestFeedPages(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	p := auth.Principal{AccountID: "a", Scopes: auth.AllScopes}
	var o records
	for i, types := range [][]outbox.Type{{outbox.FileCreated}, {outbox.FileTrashed}, {outbox.BatchCreated, outbox.FileCreated, outbox.FileAttached},
		{outbox.FileRestored}, {outbox.FileCreated}} {
		r := outbox.NewRecord("a", t0.Add(time.Duration(i)*time.Second))
		for _, ty := range types {
			r.Add(ty, map[string]int{"record": i})
		}
		r.Position = "EV#" + r.At.Format(time.RFC3339) + "#" + r.ID
		o = append(o, *r)
	}
	f := &outbox.Feed{Store: o, Clock: clock, Cursors: &keyring.Ring{Store: &keyring.Memory{}, Purpose: "events", Lifetime: outbox.Retention, Clock: clock}}
	ctx := context.Background()
	read := func(q outbox.Query) ([]outbox.Type, string) {
		t.Helper()
		page, err := f.List(ctx, p, q)
		if err != nil || page.Cursor == "" {
			t.Fatalf("List = %v, %v", page, err)
		}
		var out []outbox.Type
		for _, e := range page.Events {
			out = append(out, e.Type)
		}
		return out, page.Cursor
	}
	if got, _ := read(outbox.Query{}); len(got) != 0 {
		t.Fatalf("served before Settle: %v", got)
	}
	now = t0.Add(3*time.Second + outbox.Settle) // records 0–3 settled, 4 not
	var all []outbox.Type
	cursor := ""
	for range 4 {
		got, next := read(outbox.Query{Cursor: cursor, Limit: 2})
		all, cursor = append(all, got...), next
	}
	want := []outbox.Type{outbox.FileCreated, outbox.FileTrashed, outbox.BatchCreated, outbox.FileCreated, outbox.FileAttached, outbox.FileRestored}
	if !slices.Equal(all, want) {
		t.Fatalf("pages of 2 = %v, want %v", all, want)
	}
	now = now.Add(time.Second)
	if got, _ := read(outbox.Query{Cursor: cursor, Limit: 2}); !slices.Equal(got, []outbox.Type{outbox.FileCreated}) {
		t.Fatalf("once settled = %v", got)
	}
	created, fc := read(outbox.Query{Types: []outbox.Type{outbox.FileCreated}, Limit: 10})
	if !slices.Equal(created, []outbox.Type{outbox.FileCreated, outbox.FileCreated, outbox.FileCreated}) {
		t.Fatalf("file.created = %v", created)
	}
	_, err := f.List(ctx, p, outbox.Query{Cursor: fc})
	if apperr.KindOf(err) != apperr.KindInvalid || !strings.Contains(err.Error(), "type[]") {
		t.Fatalf("a filtered cursor without its filter: %v", err)
	}
	if _, err := f.List(ctx, auth.Principal{AccountID: "b", Scopes: auth.AllScopes}, outbox.Query{Cursor: cursor}); apperr.KindOf(err) != apperr.KindInvalid {
		t.Fatalf("another account's cursor: %v", err)
	}
	for _, q := range []outbox.Query{{Limit: 501}, {Limit: -1}, {Types: []outbox.Type{"file.renamed"}}, {Cursor: "not-a-cursor"}} {
		if _, err := f.List(ctx, p, q); apperr.KindOf(err) != apperr.KindInvalid {
			t.Fatalf("%+v: %v", q, err)
		}
	}
	if _, err := f.List(ctx, auth.Principal{AccountID: "a", Scopes: []auth.Scope{auth.ScopeWrite}}, outbox.Query{}); apperr.KindOf(err) != apperr.KindForbidden {
		t.Fatalf("without files:read: %v", err)
	}
}

// TestWebhookURLsNeedWebhooksAdmin: the feed shows a disabled webhook's URL
// to tokens that may read the webhooks only.
func TestWebhookURLsNeedWebhooksAdmin(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return t0.Add(time.Hour) }
	r := outbox.NewRecord("a", t0).Add(outbox.WebhookDisabled, outbox.WebhookData{ID: "w", URL: "https://crm.example.com/hooks/s3cr3t", Reason: "failing", DisabledAt: t0})
	r.Position = "EV#1"
	f := &outbox.Feed{Store: records{*r}, Clock: clock, Cursors: &keyring.Ring{Store: &keyring.Memory{}, Purpose: "events", Lifetime: outbox.Retention, Clock: clock}}
	for scopes, want := range map[string]bool{"files:read": false, "files:read webhooks:admin": true} {
		sc, _ := auth.ParseScopes(scopes)
		page, err := f.List(context.Background(), auth.Principal{AccountID: "a", Scopes: sc}, outbox.Query{})
		if err != nil || len(page.Events) != 1 {
			t.Fatal(page, err)
		}
		data := string(page.Events[0].Data)
		if strings.Contains(data, "s3cr3t") != want || !strings.Contains(data, `"url":`) || !strings.Contains(data, `"reason":"failing"`) {
			t.Errorf("%s: %s", scopes, data)
		}
	}
}
