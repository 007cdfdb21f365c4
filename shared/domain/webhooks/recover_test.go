package webhooks_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/adapters/memory"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

// queue keeps what is queued, in order.
type queue struct{ ms []webhooks.Message }

func (q *queue) Enqueue(_ context.Context, ms []webhooks.Message) error {
	q.ms = append(q.ms, ms...)
	return nil
}

// TestRecoveryPages: a recovery of 250 records queues, step by step, a
// message per record of the window with the events the webhook takes, in
// the outbox's order, and a next step after each full page; its last step
// queues none. Its own delivery failures are not among them.
func TestRecoveryPages(t *testing.T) {
	ctx := context.Background()
	st := &memory.Store{}
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if err := st.PutAccount(ctx, auth.Account{ID: "a", Name: "a", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	hook := webhooks.Webhook{ID: "h", AccountID: "a", Enabled: true, Types: []outbox.Type{outbox.WebhookDisabled, outbox.WebhookDeliveryFailed}}
	if err := st.PutWebhook(ctx, hook, true); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 250 { // each a webhook switched off: its record
		w := webhooks.Webhook{ID: fmt.Sprintf("w%d", i), AccountID: "a", Enabled: true}
		if err := st.PutWebhook(ctx, w, true); err != nil {
			t.Fatal(err)
		}
		at := base.Add(time.Duration(i) * time.Second)
		rec := outbox.NewRecord("a", at).Add(outbox.WebhookDisabled, outbox.WebhookData{ID: w.ID})
		w.DisabledAt = at
		if err := st.Disable(ctx, w, rec); err != nil {
			t.Fatal(err)
		}
		want = append(want, rec.Events[0].ID)
	}
	// a failure of the recovering webhook's own delivery: not for it
	own := outbox.NewRecord("a", base.Add(time.Hour)).Add(outbox.WebhookDeliveryFailed, outbox.DeliveryFailedData{WebhookID: "h"})
	if err := st.SaveAttempt(ctx, webhooks.Delivery{ID: "d", WebhookID: "x", AccountID: "a", State: webhooks.StateFailed}, webhooks.Attempt{At: base}, own); err != nil {
		t.Fatal(err)
	}
	q := &queue{}
	svc := &webhooks.Service{Store: st, Queue: q, Clock: func() time.Time { return base.Add(2 * time.Hour) }}
	first := webhooks.Recovery{AccountID: "a", Since: base, Until: base.Add(2 * time.Hour)}
	pending := []webhooks.Message{{WebhookID: "h", Recover: &first}}
	var got []string
	for steps := 0; len(pending) > 0; steps++ {
		if steps > 5 {
			t.Fatal("the recovery does not end")
		}
		q.ms = nil
		out, err := svc.Deliver(ctx, pending[0], slog.New(slog.DiscardHandler))
		if err != nil || !out.Done {
			t.Fatalf("step %d: %+v %v", steps, out, err)
		}
		pending = nil
		for _, m := range q.ms {
			if m.Recover != nil {
				pending = append(pending, m)
				continue
			}
			for _, e := range m.Events {
				got = append(got, e.ID)
				if e.Sequence == "" {
					t.Fatalf("event %+v has no sequence", e)
				}
			}
		}
		if steps < 2 && len(pending) != 1 {
			t.Fatalf("step %d queued %d next steps", steps, len(pending))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("queued %d events, want the 250 in order", len(got))
	}
}
