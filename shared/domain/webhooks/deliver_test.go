package webhooks_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
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
	m := webhooks.Message{WebhookID: "w", Events: []outbox.Envelope{{Event: outbox.Event{ID: "e1", Type: outbox.FileCreated, Time: now}, AccountID: "a"}}}
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

// TestAChangesEventsGoInOrder: a message's events are sent one after the
// other; the first that fails stops the message (the ones after it are
// not sent before it), the next receive skips what was delivered, and a
// delivery given up leaves the events after it failed and unsent. A
// message of the earlier one-event form is delivered too.
func TestAChangesEventsGoInOrder(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	refuse := map[string]int{"e2": 1} // e2's first attempt fails
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		mu.Lock()
		defer mu.Unlock()
		got = append(got, id)
		if refuse[id] != 0 {
			refuse[id]--
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	st := &memory.Store{}
	ctx := context.Background()
	if err := st.PutAccount(ctx, auth.Account{ID: "a", Name: "acme", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	svc := &webhooks.Service{Store: st, Sender: webhooks.NewSender(true), Clock: func() time.Time { return now }, Loopback: true}
	w := webhooks.Webhook{ID: "w", AccountID: "a", URL: srv.URL, Secret: webhooks.NewSecret(), Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := st.PutWebhook(ctx, w, true); err != nil {
		t.Fatal(err)
	}
	ev := func(id string) outbox.Envelope {
		return outbox.Envelope{Event: outbox.Event{ID: id, Type: outbox.FileCreated, Time: now}, AccountID: "a"}
	}
	log := slog.New(slog.DiscardHandler)
	deliver := func(m webhooks.Message) webhooks.Outcome {
		t.Helper()
		out, err := svc.Deliver(ctx, m, log)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	m := webhooks.Message{WebhookID: "w", Position: "p", Events: []outbox.Envelope{ev("e1"), ev("e2"), ev("e3")}}
	if out := deliver(m); out.Done || out.RetryIn == 0 {
		t.Fatalf("e2 refused: %+v, want a retry", out)
	}
	if out := deliver(m); !out.Done {
		t.Fatalf("the retry: %+v", out)
	}
	if want := []string{"e1", "e2", "e2", "e3"}; !slices.Equal(got, want) {
		t.Fatalf("the receiver got %v, want %v", got, want)
	}

	// e5 refused on every attempt: given up, e6 behind it is never sent
	got, refuse["e5"] = nil, 100
	m = webhooks.Message{WebhookID: "w", Position: "p", Events: []outbox.Envelope{ev("e4"), ev("e5"), ev("e6")}}
	for i := 0; ; i++ {
		out := deliver(m)
		if out.GiveUp {
			break
		}
		if out.Done || i > webhooks.MaxAttempts {
			t.Fatalf("attempt %d: %+v", i, out)
		}
		now = now.Add(out.RetryIn)
	}
	if slices.Contains(got, "e6") {
		t.Fatalf("e6 was sent after e5 was given up: %v", got)
	}
	d, err := st.Delivery(ctx, "w", "e6")
	if err != nil || d.State != webhooks.StateFailed || len(d.Attempts) != 1 || !strings.Contains(d.Attempts[0].Error, "e5") {
		t.Fatalf("e6's delivery: %+v %v", d, err)
	}

	// the one-event form of messages queued before (the webhook, switched
	// off by the give-up, on again)
	got = nil
	on, _ := st.Webhook(ctx, "a", "w")
	on.Enabled, on.DisabledReason = true, ""
	if err := st.PutWebhook(ctx, on, false); err != nil {
		t.Fatal(err)
	}
	old := ev("e7")
	if out := deliver(webhooks.Message{WebhookID: "w", Position: "p", Event: &old}); !out.Done || !slices.Equal(got, []string{"e7"}) {
		t.Fatalf("a one-event message: %+v, sent %v", out, got)
	}
}
