package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

func webhook(acct string, at time.Time) webhooks.Webhook {
	return webhooks.Webhook{ID: uuid.Must(uuid.NewV7()).String(), AccountID: acct, URL: "https://crm.example.com/hooks",
		Types: []outbox.Type{outbox.FileCreated, outbox.FileTrashed}, Secret: "whsec_current", Previous: "whsec_old",
		PreviousUntil: at.Add(time.Hour), Enabled: true, CreatedAt: at, UpdatedAt: at}
}

// sameWebhook compares what the store keeps of a webhook.
func sameWebhook(t *testing.T, got, want webhooks.Webhook) {
	t.Helper()
	if got.ID != want.ID || got.AccountID != want.AccountID || got.URL != want.URL || got.Description != want.Description ||
		!slices.Equal(got.Types, want.Types) || got.Secret != want.Secret || got.Previous != want.Previous ||
		!got.PreviousUntil.Equal(want.PreviousUntil) || got.Enabled != want.Enabled || got.DisabledReason != want.DisabledReason ||
		!got.DisabledAt.Equal(want.DisabledAt) || !got.FailingSince.Equal(want.FailingSince) ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("webhook\n got %+v\nwant %+v", got, want)
	}
}

// testWebhooks: webhooks are created once, replaced only while they exist,
// listed oldest first within their account; failure marks keep the first
// failure; a switch-off writes its record with it, once.
func testWebhooks(t *testing.T, s Store) {
	ctx := context.Background()
	acct, other := account(t, s, 0), account(t, s, 0)
	w1 := webhook(acct, now)
	if err := s.PutWebhook(ctx, w1, true); err != nil {
		t.Fatal(err)
	}
	if err := s.PutWebhook(ctx, w1, true); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
	if err := s.PutWebhook(ctx, webhook(acct, now), false); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("replacing a missing webhook: %v", err)
	}
	got, err := s.Webhook(ctx, acct, w1.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameWebhook(t, got, w1)
	if _, err := s.Webhook(ctx, other, w1.ID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("another account's webhook: %v", err)
	}
	w2, w3 := webhook(acct, now.Add(time.Second)), webhook(other, now)
	w2.Types, w2.Previous, w2.PreviousUntil = nil, "", time.Time{}
	for _, w := range []webhooks.Webhook{w2, w3} {
		if err := s.PutWebhook(ctx, w, true); err != nil {
			t.Fatal(err)
		}
	}
	w1.Description, w1.UpdatedAt = "orders", now.Add(time.Minute)
	if err := s.PutWebhook(ctx, w1, false); err != nil {
		t.Fatal(err)
	}
	list, err := s.Webhooks(ctx, acct)
	if err != nil || len(list) != 2 {
		t.Fatalf("Webhooks = %d, %v", len(list), err)
	}
	sameWebhook(t, list[0], w1)
	sameWebhook(t, list[1], w2)

	failed := now.Add(2 * time.Minute)
	for _, at := range []time.Time{failed, failed.Add(time.Minute)} {
		if err := s.Failing(ctx, acct, w1.ID, at); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.Webhook(ctx, acct, w1.ID); !got.FailingSince.Equal(failed) {
		t.Fatalf("failing since %v, want the first failure %v", got.FailingSince, failed)
	}
	if err := s.Healthy(ctx, acct, w1.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Webhook(ctx, acct, w1.ID); !got.FailingSince.IsZero() {
		t.Fatalf("healthy webhook failing since %v", got.FailingSince)
	}
	if err := s.Failing(ctx, acct, uuid.NewString(), failed); err != nil {
		t.Fatalf("Failing on a deleted webhook: %v", err)
	}

	n := len(records(t, s, acct))
	off := w1
	off.Enabled, off.DisabledReason, off.DisabledAt = false, "failing", now.Add(time.Hour)
	rec := func() *outbox.Record {
		return outbox.NewRecord(acct, off.DisabledAt).Add(outbox.WebhookDisabled, map[string]string{"id": w1.ID})
	}
	if err := s.Disable(ctx, off, rec()); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Webhook(ctx, acct, w1.ID)
	off.UpdatedAt = off.DisabledAt
	sameWebhook(t, got, off)
	recs := records(t, s, acct)
	if len(recs) != n+1 || recs[n].Events[0].Type != outbox.WebhookDisabled {
		t.Fatalf("records after the switch-off: %d, want %d", len(recs), n+1)
	}
	if err := s.Disable(ctx, off, rec()); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("second switch-off: %v", err)
	}
	if len(records(t, s, acct)) != n+1 {
		t.Fatal("a refused switch-off wrote its record")
	}
	back, err := s.Record(ctx, acct, recs[n].Position)
	if err != nil || back.ID != recs[n].ID || len(back.Events) != 1 || back.Events[0].Type != outbox.WebhookDisabled {
		t.Fatalf("Record = %+v, %v", back, err)
	}
	if _, err := s.Record(ctx, acct, outboxPosition(now, uuid.NewString())); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("a missing record: %v", err)
	}

	for range 2 {
		if err := s.DeleteWebhook(ctx, acct, w1.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Webhook(ctx, acct, w1.ID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("deleted webhook: %v", err)
	}
	if list, _ := s.Webhooks(ctx, acct); len(list) != 1 || list[0].ID != w2.ID {
		t.Fatalf("after the delete: %+v", list)
	}
}

// outboxPosition is a record's position as the adapters write it.
func outboxPosition(at time.Time, id string) string {
	return "EV#" + at.UTC().Format("2006-01-02T15:04:05.000000Z") + "#" + id
}

// testDeliveries: a delivery keeps its newest attempts and its count of
// automatic ones, is never taken back
// from delivered, and a webhook's deliveries page newest first.
func testDeliveries(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	hook := uuid.Must(uuid.NewV7()).String()
	d := webhooks.Delivery{ID: uuid.Must(uuid.NewV7()).String(), WebhookID: hook, AccountID: acct, Type: outbox.FileCreated,
		Position: outboxPosition(now, "r"), State: webhooks.StatePending, CreatedAt: now}
	for i := range webhooks.MaxAttemptsKept + 2 {
		a := webhooks.Attempt{At: now.Add(time.Duration(i) * time.Minute), Status: 500 + i, Latency: 1500 * time.Microsecond,
			Response: "busy", Error: ""}
		d.Tries = i + 1
		if err := s.SaveAttempt(ctx, d, a, nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.Delivery(ctx, hook, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		d = got
	}
	if len(d.Attempts) != webhooks.MaxAttemptsKept || d.Attempts[0].Status != 502 || d.Attempts[len(d.Attempts)-1].Status != 500+webhooks.MaxAttemptsKept+1 {
		t.Fatalf("kept %d attempts, %d to %d", len(d.Attempts), d.Attempts[0].Status, d.Attempts[len(d.Attempts)-1].Status)
	}
	last := d.Attempts[len(d.Attempts)-1]
	if last.Latency != 1500*time.Microsecond || last.Response != "busy" || !d.UpdatedAt.Equal(last.At) || d.Position != outboxPosition(now, "r") ||
		d.Type != outbox.FileCreated || d.AccountID != acct || !d.CreatedAt.Equal(now) || d.Tries != webhooks.MaxAttemptsKept+2 {
		t.Fatalf("delivery %+v, last attempt %+v", d, last)
	}
	delivered := d
	delivered.State = webhooks.StateDelivered
	if err := s.SaveAttempt(ctx, delivered, webhooks.Attempt{At: now.Add(time.Hour), Status: 204}, nil); err != nil {
		t.Fatal(err)
	}
	late := d // an attempt that started before the success, saved after it, with its event
	late.State = webhooks.StateFailed
	lost := outbox.NewRecord(acct, now).Add(outbox.WebhookDeliveryFailed, map[string]string{"event_id": d.ID})
	if err := s.SaveAttempt(ctx, late, webhooks.Attempt{At: now.Add(time.Hour), Error: "timeout"}, lost); err != nil {
		t.Fatal(err)
	}
	if recs := deliveryFailures(t, s, acct); len(recs) != 0 {
		t.Fatalf("a late failure wrote its event: %+v", recs)
	}
	if got, _ := s.Delivery(ctx, hook, d.ID); got.State != webhooks.StateDelivered || got.Attempts[len(got.Attempts)-1].Status != 204 {
		t.Fatalf("a late failure overwrote the delivery: %s, %+v", got.State, got.Attempts[len(got.Attempts)-1])
	}
	if _, err := s.Delivery(ctx, hook, uuid.NewString()); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("a missing delivery: %v", err)
	}

	// a failure saved with its event: both, or neither
	failed := webhooks.Delivery{ID: uuid.Must(uuid.NewV7()).String(), WebhookID: hook, AccountID: acct, Type: outbox.FileCreated,
		State: webhooks.StateFailed, Tries: 8, CreatedAt: now}
	rec := outbox.NewRecord(acct, now).Add(outbox.WebhookDeliveryFailed, map[string]string{"event_id": failed.ID})
	if err := s.SaveAttempt(ctx, failed, webhooks.Attempt{At: now, Status: 500}, rec); err != nil {
		t.Fatal(err)
	}
	if recs := deliveryFailures(t, s, acct); len(recs) != 1 || recs[0].ID != rec.ID {
		t.Fatalf("the failure's event: %+v", recs)
	}
	if got, err := s.Delivery(ctx, hook, failed.ID); err != nil || got.State != webhooks.StateFailed {
		t.Fatalf("the failed delivery: %+v %v", got, err)
	}

	ids := []string{d.ID, failed.ID}
	var trashed []string
	for i := range 4 {
		x := webhooks.Delivery{ID: uuid.Must(uuid.NewV7()).String(), WebhookID: hook, AccountID: acct, Type: outbox.FileTrashed,
			State: webhooks.StatePending, CreatedAt: now.Add(time.Duration(i) * time.Second)}
		if err := s.SaveAttempt(ctx, x, webhooks.Attempt{At: x.CreatedAt, Status: 500}, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, x.ID)
		trashed = append(trashed, x.ID)
	}
	slices.Reverse(ids) // newest first
	slices.Reverse(trashed)
	var seen []string
	after := ""
	for range 4 {
		page, next, err := s.Deliveries(ctx, hook, after, webhooks.DeliveryFilter{}, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range page {
			seen = append(seen, x.ID)
		}
		if after = next; after == "" {
			break
		}
	}
	if !slices.Equal(seen, ids) || after != "" {
		t.Fatalf("pages %v (next %q), want %v", seen, after, ids)
	}
	if page, _, err := s.Deliveries(ctx, uuid.NewString(), "", webhooks.DeliveryFilter{}, 10); err != nil || len(page) != 0 {
		t.Fatalf("another webhook's deliveries: %d, %v", len(page), err)
	}

	// filtered, in pages of two: by state, type, and first attempt's time
	filtered := func(f webhooks.DeliveryFilter) []string {
		var out []string
		for after, n := "", 0; ; n++ {
			page, next, err := s.Deliveries(ctx, hook, after, f, 2)
			if err != nil || n > 10 {
				t.Fatalf("filter %+v: %v after %d pages", f, err, n)
			}
			for _, x := range page {
				out = append(out, x.ID)
			}
			if after = next; after == "" {
				return out
			}
		}
	}
	for _, tc := range []struct {
		f    webhooks.DeliveryFilter
		want []string
	}{
		{webhooks.DeliveryFilter{State: webhooks.StateFailed}, []string{failed.ID}},
		{webhooks.DeliveryFilter{State: webhooks.StateDelivered}, []string{d.ID}},
		{webhooks.DeliveryFilter{Type: outbox.FileTrashed}, trashed},
		{webhooks.DeliveryFilter{Type: outbox.FileTrashed, State: webhooks.StateDelivered}, nil},
		{webhooks.DeliveryFilter{Since: now.Add(2 * time.Second), Until: now.Add(3 * time.Second)}, trashed[1:2]},
		{webhooks.DeliveryFilter{Since: now.Add(time.Second)}, trashed[:3]},
	} {
		if got := filtered(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("filter %+v: %v, want %v", tc.f, got, tc.want)
		}
	}
}

// deliveryFailures is the account's records of webhook.delivery_failed.
func deliveryFailures(t *testing.T, s Store, account string) []outbox.Record {
	t.Helper()
	recs, _, err := s.Records(context.Background(), outbox.Scan{AccountID: account, Until: now.Add(time.Hour), Types: []outbox.Type{outbox.WebhookDeliveryFailed}, Limit: 10, Budget: 100})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// testAttemptSlots: a webhook's attempt slots are taken while fewer than n
// are held (whatever n the holders took them under), freed by their own
// release or at their lease's end, and kept when the webhook is replaced
// (racing leases: testLeaseRace).
func testAttemptSlots(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	w, other := webhook(acct, now), webhook(acct, now)
	for _, wh := range []webhooks.Webhook{w, other} {
		if err := s.PutWebhook(ctx, wh, true); err != nil {
			t.Fatal(err)
		}
	}
	until := now.Add(30 * time.Second)
	lease := func(id string, n int, at time.Time, want bool) int {
		t.Helper()
		slot, ok, err := s.Lease(ctx, acct, id, n, at, until)
		if err != nil || ok != want {
			t.Fatalf("Lease(n=%d) at %v = %d, %v, %v; want %v", n, at.Sub(now), slot, ok, err, want)
		}
		return slot
	}
	release := func(slot int, until time.Time) {
		t.Helper()
		if err := s.Release(ctx, acct, w.ID, slot, until); err != nil {
			t.Fatal(err)
		}
	}
	a, b := lease(w.ID, 2, now, true), lease(w.ID, 2, now, true)
	if a == b {
		t.Fatalf("two leases of slot %d", a)
	}
	lease(w.ID, 2, now, false)
	lease(w.ID, 3, now, true)  // a third under a higher limit
	lease(w.ID, 1, now, false) // a failing endpoint's one slot: taken while any is
	lease(other.ID, 1, now, true)
	if err := s.PutWebhook(ctx, w, false); err != nil {
		t.Fatal(err)
	}
	lease(w.ID, 3, now, false)
	release(a, until.Add(-time.Second)) // not this lease: it stays
	lease(w.ID, 3, now, false)
	release(a, until)
	if got := lease(w.ID, 3, now, true); got != a {
		t.Fatalf("took slot %d, want the freed %d", got, a)
	}
	release(a, until)
	release(a, until)                                   // twice: nothing more
	lease(w.ID, 2, until, true)                         // at its end a lease is free: all of them are
	lease(w.ID, 1, until.Add(-time.Millisecond), false) // but not before
}

// testLeaseRace: leases racing for 3 slots of a fresh webhook take at most
// 3 (a store whose conditional writes are atomic: not moto_server's).
func testLeaseRace(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	until := now.Add(time.Minute)
	racing := webhook(acct, now)
	if err := s.PutWebhook(ctx, racing, true); err != nil {
		t.Fatal(err)
	}
	var taken atomic.Int32
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			_, ok, err := s.Lease(ctx, acct, racing.ID, 3, now, until)
			if err != nil {
				t.Error(err)
			}
			if ok {
				taken.Add(1)
			}
		})
	}
	wg.Wait()
	if n := taken.Load(); n < 1 || n > 3 {
		t.Fatalf("%d leases taken of 3 slots", n)
	}
}
