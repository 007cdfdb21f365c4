package dispatch

import (
	"context"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

// Records reads an account's outbox records (outbox.Outbox).
type Records interface {
	Records(ctx context.Context, s outbox.Scan) ([]outbox.Record, string, error)
}

// Window is what a replay dispatches again: the records the accounts
// wrote from From to To (both included).
type Window struct {
	Accounts []string
	From, To time.Time
	// DryRun counts the records, events and deliveries without
	// dispatching them.
	DryRun bool
}

// Check refuses a window that is empty, inverted or older than the
// outbox keeps (outbox.Retention before now).
func (w Window) Check(now time.Time) error {
	switch {
	case w.From.IsZero():
		return apperr.Invalid("from", "is required (RFC 3339)")
	case w.From.Before(now.Add(-outbox.Retention)):
		return apperr.Invalid("from", "is more than 30 days ago: the outbox keeps events 30 days")
	case w.To.Before(w.From):
		return apperr.Invalid("to", "is before from")
	}
	return nil
}

// replayPage is how many records a replay reads and dispatches at once
// (a stream batch's worth).
const replayPage = StreamBatch

// Replay dispatches again, account by account and in each account's
// order, every record of the window: what the stream gave up on (the
// failure queue's batches), or what a bus target or a webhook missed.
// It is idempotent by event id: each event reaches the bus with the id it
// had, and its deliveries with their webhook-id; a delivery already made
// is not sent again (the delivery function skips it), one that failed
// is tried anew. each, when set, hears the stats of each account done.
func (d *Dispatcher) Replay(ctx context.Context, src Records, w Window, each func(account string, st Stats)) (Stats, error) {
	var total Stats
	for _, account := range w.Accounts {
		var st Stats
		for after := ""; ; {
			recs, next, err := src.Records(ctx, outbox.Scan{AccountID: account, After: after, Since: w.From, Until: w.To,
				Limit: replayPage, Budget: replayPage})
			if err != nil {
				return add(total, st), err
			}
			var page Stats
			switch {
			case len(recs) == 0:
			case w.DryRun:
				page, err = d.count(ctx, account, recs)
			default:
				page, err = d.Dispatch(ctx, recs)
			}
			st = add(st, page)
			if err != nil {
				return add(total, st), err
			}
			if after = next; next == "" {
				break
			}
		}
		total = add(total, st)
		if each != nil {
			each(account, st)
		}
	}
	return total, nil
}

// count is what Dispatch would do with an account's records.
func (d *Dispatcher) count(ctx context.Context, account string, recs []outbox.Record) (Stats, error) {
	st := Stats{Records: len(recs), Done: len(recs)}
	ws, err := d.Webhooks.Webhooks(ctx, account)
	if err != nil {
		return Stats{}, err
	}
	for _, r := range recs {
		envs := r.Envelopes()
		st.Events += len(envs)
		for _, w := range ws {
			if m, ok := webhooks.MessageOf(w, r.Position, envs); ok {
				st.Deliveries += len(m.Events)
			}
		}
	}
	return st, nil
}

func add(a, b Stats) Stats {
	return Stats{Records: a.Records + b.Records, Events: a.Events + b.Events, Deliveries: a.Deliveries + b.Deliveries, Done: a.Done + b.Done}
}
