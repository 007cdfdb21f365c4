package dispatch_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/adapters/memory"
	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/dispatch"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

// TestReplay: a replay dispatches again the records of the window (both
// ends included), account by account, each in its order and across
// pages, with their events' original ids; a dry run dispatches nothing
// and counts the same; a window older than the outbox keeps, or
// inverted, is refused naming the field.
func TestReplay(t *testing.T) {
	ctx := context.Background()
	st := &memory.Store{}
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var inWindow []string // event ids, in order
	for _, acct := range []string{"a", "b"} {
		if err := st.PutAccount(ctx, auth.Account{ID: acct, Name: acct, CreatedAt: base}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutWebhook(ctx, webhooks.Webhook{ID: "all-" + acct, AccountID: acct, Enabled: true}, true); err != nil {
			t.Fatal(err)
		}
		// 250 records a second apart (three pages of the window): a
		// webhook switched off in each writes its record
		for i := range 250 {
			w := webhooks.Webhook{ID: fmt.Sprintf("w%d", i), AccountID: acct, Enabled: true, Types: []outbox.Type{outbox.FileCreated}}
			if err := st.PutWebhook(ctx, w, true); err != nil {
				t.Fatal(err)
			}
			at := base.Add(time.Duration(i) * time.Second)
			rec := outbox.NewRecord(acct, at).Add(outbox.WebhookDisabled, outbox.WebhookData{ID: w.ID})
			w.DisabledAt = at
			if err := st.Disable(ctx, w, rec); err != nil {
				t.Fatal(err)
			}
			if i >= 10 && i <= 240 && acct == "b" {
				inWindow = append(inWindow, rec.Events[0].ID)
			}
		}
	}
	f := &fakes{hooks: map[string][]webhooks.Webhook{"a": {{ID: "all-a", Enabled: true}}, "b": {{ID: "all-b", Enabled: true}, {ID: "files-only", Enabled: true, Types: []outbox.Type{outbox.FileCreated}}}}}
	d := &dispatch.Dispatcher{Bus: f, Queue: f, Webhooks: f}
	w := dispatch.Window{Accounts: []string{"b"}, From: base.Add(10 * time.Second), To: base.Add(240 * time.Second)}
	dry := w
	dry.DryRun = true
	counted, err := d.Replay(ctx, st, dry, nil)
	if err != nil || counted != (dispatch.Stats{Records: 231, Events: 231, Deliveries: 231, Done: 231}) || len(f.published)+len(f.queued) != 0 {
		t.Fatalf("dry run: %+v %v, %d published", counted, err, len(f.published))
	}
	var heard []string
	got, err := d.Replay(ctx, st, w, func(account string, s dispatch.Stats) {
		heard = append(heard, fmt.Sprintf("%s %d", account, s.Records))
	})
	if err != nil || got != counted || !slices.Equal(heard, []string{"b 231"}) {
		t.Fatalf("replay: %+v %v, heard %v", got, err, heard)
	}
	var ids []string
	for _, e := range f.published {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, inWindow) {
		t.Fatalf("published %d events, want the window's %d in order", len(ids), len(inWindow))
	}
	var delivered []string
	for i, m := range f.queued {
		if m.WebhookID != "all-b" || m.Position == "" {
			t.Fatalf("delivery %d: %+v", i, m)
		}
		for _, e := range m.Events {
			delivered = append(delivered, e.ID)
		}
	}
	if !slices.Equal(delivered, inWindow) {
		t.Fatalf("queued %d events, want the window's %d in order", len(delivered), len(inWindow))
	}
	now := base.Add(time.Hour)
	for field, bad := range map[string]dispatch.Window{
		"from": {From: now.Add(-31 * 24 * time.Hour), To: now},
		"to":   {From: now, To: now.Add(-time.Second)},
	} {
		if e, ok := apperr.As(bad.Check(now)); !ok || len(e.Fields) != 1 || e.Fields[0].Field != field {
			t.Errorf("window %+v: %v, want a problem naming %s", bad, bad.Check(now), field)
		}
	}
	if err := w.Check(now); err != nil {
		t.Fatal(err)
	}
}
