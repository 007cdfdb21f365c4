package memory

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

// Webhooks are keyed by account and id (a webhook may name an account the
// store lacks, as in the table); deliveries by webhook, then event id.

func webhookKey(account, id string) string { return account + "/" + id }

func cloneWebhook(w webhooks.Webhook) webhooks.Webhook {
	w.Types = slices.Clone(w.Types)
	return w
}

// PutWebhook implements webhooks.Store.
func (s *Store) PutWebhook(_ context.Context, w webhooks.Webhook, create bool) error {
	return s.do(func() error {
		k := webhookKey(w.AccountID, w.ID)
		_, exists := s.webhooks[k]
		switch {
		case create && exists:
			return apperr.ErrConflict
		case !create && !exists:
			return apperr.ErrNotFound // deleted meanwhile
		}
		s.webhooks[k] = cloneWebhook(w)
		return nil
	})
}

// Webhook implements webhooks.Store.
func (s *Store) Webhook(_ context.Context, account, id string) (webhooks.Webhook, error) {
	var w webhooks.Webhook
	err := s.do(func() error {
		got, ok := s.webhooks[webhookKey(account, id)]
		if !ok {
			return apperr.ErrNotFound
		}
		w = cloneWebhook(got)
		return nil
	})
	return w, err
}

// Webhooks implements webhooks.Store: by id, as the table's sort key
// orders them (ids are UUIDv7: oldest first).
func (s *Store) Webhooks(_ context.Context, account string) ([]webhooks.Webhook, error) {
	var out []webhooks.Webhook
	err := s.do(func() error {
		for k, w := range s.webhooks {
			if strings.HasPrefix(k, account+"/") {
				out = append(out, cloneWebhook(w))
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b webhooks.Webhook) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}

// DeleteWebhook implements webhooks.Store (its deliveries stay, as in the
// table, until they expire).
func (s *Store) DeleteWebhook(_ context.Context, account, id string) error {
	return s.do(func() error {
		delete(s.webhooks, webhookKey(account, id))
		return nil
	})
}

// Failing implements webhooks.Store.
func (s *Store) Failing(_ context.Context, account, id string, at time.Time) error {
	return s.changeWebhook(account, id, func(w *webhooks.Webhook) {
		if w.FailingSince.IsZero() {
			w.FailingSince = at
		}
	})
}

// Healthy implements webhooks.Store.
func (s *Store) Healthy(_ context.Context, account, id string) error {
	return s.changeWebhook(account, id, func(w *webhooks.Webhook) { w.FailingSince = time.Time{} })
}

// changeWebhook changes a webhook that exists (a gone one: nothing to do).
func (s *Store) changeWebhook(account, id string, change func(*webhooks.Webhook)) error {
	return s.do(func() error {
		k := webhookKey(account, id)
		if w, ok := s.webhooks[k]; ok {
			change(&w)
			s.webhooks[k] = w
		}
		return nil
	})
}

// Disable implements webhooks.Store: an enabled webhook switched off and
// its record written together (a conflict when it is off or gone).
func (s *Store) Disable(_ context.Context, w webhooks.Webhook, rec *outbox.Record) error {
	return s.do(func() error {
		k := webhookKey(w.AccountID, w.ID)
		cur, ok := s.webhooks[k]
		if !ok || !cur.Enabled {
			return apperr.ErrConflict
		}
		cur.Enabled, cur.DisabledReason, cur.DisabledAt, cur.UpdatedAt = false, w.DisabledReason, w.DisabledAt, w.DisabledAt
		s.webhooks[k] = cur
		s.accounts[w.AccountID].write(rec)
		return nil
	})
}

// SaveAttempt implements webhooks.Store: the delivery with its newest
// webhooks.MaxAttemptsKept attempts, never over a delivered one, and rec
// with it.
func (s *Store) SaveAttempt(_ context.Context, d webhooks.Delivery, a webhooks.Attempt, rec *outbox.Record) error {
	return s.do(func() error {
		if s.deliveries[d.WebhookID] == nil {
			s.deliveries[d.WebhookID] = map[string]webhooks.Delivery{}
		}
		if cur, ok := s.deliveries[d.WebhookID][d.ID]; ok && cur.State == webhooks.StateDelivered && d.State != webhooks.StateDelivered {
			return nil // delivered by a concurrent attempt
		}
		a.Latency = a.Latency.Truncate(time.Microsecond)
		all := append(slices.Clone(d.Attempts), a)
		d.Attempts = slices.Clone(all[max(0, len(all)-webhooks.MaxAttemptsKept):])
		d.UpdatedAt = a.At
		s.deliveries[d.WebhookID][d.ID] = d
		s.accounts[d.AccountID].write(rec)
		return nil
	})
}

// Delivery implements webhooks.Store.
func (s *Store) Delivery(_ context.Context, webhookID, id string) (webhooks.Delivery, error) {
	var d webhooks.Delivery
	err := s.do(func() error {
		got, ok := s.deliveries[webhookID][id]
		if !ok {
			return apperr.ErrNotFound
		}
		d = got
		d.Attempts = slices.Clone(got.Attempts)
		return nil
	})
	return d, err
}

// Deliveries implements webhooks.Store: newest first (event ids are
// UUIDv7), after a delivery id; like the table's Query, a full page names
// its last delivery as the next page's start.
func (s *Store) Deliveries(_ context.Context, webhookID, after string, f webhooks.DeliveryFilter, limit int) ([]webhooks.Delivery, string, error) {
	var out []webhooks.Delivery
	err := s.do(func() error {
		for id, d := range s.deliveries[webhookID] {
			if (after == "" || id < after) && f.Passes(d) {
				d.Attempts = slices.Clone(d.Attempts)
				out = append(out, d)
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b webhooks.Delivery) int { return strings.Compare(b.ID, a.ID) })
	if len(out) < limit {
		return out, "", err
	}
	out = out[:limit]
	return out, out[limit-1].ID, err
}

// Record implements webhooks.Store: one outbox record by its position.
func (s *Store) Record(_ context.Context, accountID, position string) (outbox.Record, error) {
	return read(s, accountID, func(a *account) (outbox.Record, bool) {
		i, ok := slices.BinarySearchFunc(a.records, position, byPosition)
		if !ok {
			return outbox.Record{}, false
		}
		r := a.records[i]
		r.Events = slices.Clone(r.Events)
		return r, true
	})
}

// Lease implements webhooks.Store: the first free slot, when fewer than
// n are held.
func (s *Store) Lease(_ context.Context, account, id string, n int, now, until time.Time) (slot int, ok bool, err error) {
	err = s.do(func() error {
		k := webhookKey(account, id)
		held := s.leases[k]
		if held == nil {
			held = map[int]time.Time{}
			s.leases[k] = held
		}
		for i, end := range held {
			if !end.After(now) {
				delete(held, i)
			}
		}
		if len(held) >= n {
			return nil
		}
		for held[slot].After(now) {
			slot++
		}
		held[slot], ok = until, true
		return nil
	})
	return slot, ok, err
}

// Release implements webhooks.Store.
func (s *Store) Release(_ context.Context, account, id string, slot int, until time.Time) error {
	return s.do(func() error {
		if held := s.leases[webhookKey(account, id)]; held[slot].Equal(until) {
			delete(held, slot)
		}
		return nil
	})
}
