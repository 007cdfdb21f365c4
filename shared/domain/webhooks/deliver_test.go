package webhooks_test

import (
	"context"
	"fmt"
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

// service is the webhooks of account "a" on a memory store, with a webhook
// to each of urls (by id), and its clock.
func service(t *testing.T, clock func() time.Time, urls map[string]string) (*webhooks.Service, *memory.Store) {
	t.Helper()
	ctx, now := context.Background(), clock()
	st := &memory.Store{}
	if err := st.PutAccount(ctx, auth.Account{ID: "a", Name: "acme", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for id, url := range urls {
		w := webhooks.Webhook{ID: id, AccountID: "a", URL: url, Secret: webhooks.NewSecret(), Enabled: true, CreatedAt: now, UpdatedAt: now}
		if err := st.PutWebhook(ctx, w, true); err != nil {
			t.Fatal(err)
		}
	}
	return &webhooks.Service{Store: st, Sender: webhooks.NewSender(true), Clock: clock, Loopback: true}, st
}

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
	svc, st := service(t, func() time.Time { return now }, map[string]string{"w": srv.URL})
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
	ctx := context.Background()
	svc, st := service(t, func() time.Time { return now }, map[string]string{"w": srv.URL})
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

// TestEndpointSlots: an endpoint gets MaxInFlight attempts at once; the
// messages beyond them are postponed unsent (by their receive's
// postponement) while another webhook's go through, and a slot is free
// again when its message is done. Once the endpoint fails it gets one
// attempt at a time, until an attempt succeeds.
func TestEndpointSlots(t *testing.T) {
	t.Parallel()
	arrived, gate, stop := make(chan struct{}, 100), make(chan int), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthy" {
			return
		}
		arrived <- struct{}{}
		select {
		case status := <-gate:
			w.WriteHeader(status)
		case <-stop:
		}
	}))
	defer srv.Close()
	defer close(stop)
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	svc, _ := service(t, func() time.Time { return now }, map[string]string{"slow": srv.URL + "/slow", "healthy": srv.URL + "/healthy"})
	log := slog.New(slog.DiscardHandler)
	next := 0
	deliver := func(webhook string, outs chan<- webhooks.Outcome) {
		next++
		ev := outbox.Envelope{Event: outbox.Event{ID: fmt.Sprint("e", next), Type: outbox.FileCreated, Time: now}, AccountID: "a"}
		m := webhooks.Message{WebhookID: webhook, Position: "p", Events: []outbox.Envelope{ev}, Receives: 3}
		go func() {
			out, err := svc.Deliver(ctx, m, log)
			if err != nil {
				t.Error(err)
			}
			outs <- out
		}()
	}
	// round sends n messages to the slow endpoint at once: slots of them
	// are attempted, the rest postponed, and the attempts are answered
	// status once the others have returned.
	round := func(n, slots, status int) {
		t.Helper()
		outs := make(chan webhooks.Outcome, n)
		for range n {
			deliver("slow", outs)
		}
		for held, postponed := 0, 0; postponed < n-slots; {
			select {
			case <-arrived:
				if held++; held > slots {
					t.Fatalf("%d attempts at once, want %d", held, slots)
				}
			case out := <-outs:
				if !out.Postponed || out.RetryIn < 4*time.Second || out.RetryIn > 4400*time.Millisecond {
					t.Fatalf("a message beyond the slots: %+v, want postponed 4 s (its third receive) and its jitter", out)
				}
				postponed++
			}
		}
		healthy := make(chan webhooks.Outcome, 1)
		deliver("healthy", healthy)
		if out := <-healthy; !out.Done {
			t.Fatalf("another webhook's delivery while the slow one's slots are held: %+v", out)
		}
		for range slots {
			gate <- status
		}
		for range slots {
			if out := <-outs; out.Postponed || out.Done != (status < 300) {
				t.Fatalf("an attempt answered %d: %+v", status, out)
			}
		}
		for range len(arrived) {
			<-arrived
		}
	}
	round(webhooks.MaxInFlight+3, webhooks.MaxInFlight, 204)
	round(webhooks.MaxInFlight+3, webhooks.MaxInFlight, 500) // now failing
	round(4, 1, 500)
	round(4, 1, 204) // the probe succeeds: healthy again
	round(webhooks.MaxInFlight+1, webhooks.MaxInFlight, 204)
}
