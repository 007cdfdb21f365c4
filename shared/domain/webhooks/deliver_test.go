package webhooks_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/adapters/memory"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

// TestAttemptsAreCountedOnTheDelivery: a delivery's automatic attempts are
// counted on the delivery, not by the queue's receives (a receive Lambda
// throttled spends one and is no attempt): it is tried exactly
// MaxAttempts times, waits its backoff after each failure, and is given up
// (the dead-letter queue) after the last, which switches the failing
// webhook off. Sent again from the dead-letter queue once the webhook is
// back on, it gets a new round of attempts.
func TestAttemptsAreCountedOnTheDelivery(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(503)
	}))
	defer srv.Close()
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	st := &memory.Store{}
	if err := st.PutAccount(context.Background(), auth.Account{ID: "a", Name: "acme", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	svc := &webhooks.Service{Store: st, Sender: webhooks.NewSender(true), Clock: func() time.Time { return now }, Loopback: true}
	w := webhooks.Webhook{ID: "w", AccountID: "a", URL: srv.URL, Secret: webhooks.NewSecret(), Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := st.PutWebhook(context.Background(), w, true); err != nil {
		t.Fatal(err)
	}
	m := webhooks.Message{WebhookID: "w", Event: outbox.Envelope{Event: outbox.Event{ID: "e1", Type: outbox.FileCreated, Time: now}, AccountID: "a"}}
	log := slog.New(slog.DiscardHandler)
	deliver := func() webhooks.Outcome {
		t.Helper()
		out, err := svc.Deliver(context.Background(), m, log)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for i := range webhooks.MaxAttempts {
		out := deliver()
		if i < len(webhooks.Backoff) {
			if out.Done || out.GiveUp || out.RetryIn < webhooks.Backoff[i] || out.RetryIn > webhooks.Backoff[i]*11/10+time.Nanosecond {
				t.Fatalf("attempt %d: %+v, want a retry after %v", i+1, out, webhooks.Backoff[i])
			}
		} else if !out.GiveUp {
			t.Fatalf("last attempt: %+v, want given up", out)
		}
		now = now.Add(out.RetryIn)
	}
	d, err := st.Delivery(context.Background(), "w", "e1")
	if err != nil || d.Tries != webhooks.MaxAttempts || d.State != webhooks.StateFailed || int(hits.Load()) != webhooks.MaxAttempts {
		t.Fatalf("delivery %+v (%v), %d requests", d, err, hits.Load())
	}
	if got, _ := st.Webhook(context.Background(), "a", "w"); got.Enabled {
		t.Fatal("the failing webhook is still on")
	}

	// switched back on, the message redriven from the dead-letter queue
	got, _ := st.Webhook(context.Background(), "a", "w")
	got.Enabled, got.DisabledReason = true, ""
	if err := st.PutWebhook(context.Background(), got, false); err != nil {
		t.Fatal(err)
	}
	if out := deliver(); out.Done || out.GiveUp || out.RetryIn < webhooks.Backoff[0] {
		t.Fatalf("a redriven delivery: %+v, want its first retry", out)
	}
	if d, _ := st.Delivery(context.Background(), "w", "e1"); d.Tries != 1 || d.State != webhooks.StatePending {
		t.Fatalf("a new round: %+v", d)
	}
}
