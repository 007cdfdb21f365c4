package webhooks

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// An endpoint's attempts in flight are bounded, so that a slow or failing
// endpoint never takes the delivery function's concurrency from the
// others: each attempt holds one of the webhook's slots (a lease in the
// store, ended when the message is done or, after a crash, when the
// function's timeout has passed); a message that finds every slot held is
// postponed without an attempt. A failing endpoint (its last attempt
// failed, a timeout included) has one slot: the probe, whose success
// gives it all of them back.

// MaxInFlight is the attempts an endpoint that is not failing gets at
// once: a quarter of the delivery function's concurrency, so that four
// endpoints turning slow together still leave the others room until
// their first attempts time out, and then they hold one slot each.
const MaxInFlight = Concurrency / 4

// FunctionTimeout is the delivery function's timeout (the stack's): a
// slot's lease ends then even if its holder crashed.
const FunctionTimeout = 30 * time.Second

// MaxPostponement bounds the wait of a message postponed for lack of a
// slot.
const MaxPostponement = time.Hour

// Postponement is the wait of a message postponed for lack of a slot on
// its receives-th receive (SQS's ApproximateReceiveCount): one second,
// doubling with each receive, at most MaxPostponement, with up to 10 %
// jitter. Waits growing with the receives keep a message of a long
// backlog under the queue's MaxReceives for more than a day.
func Postponement(receives int) time.Duration {
	doublings := min(max(receives-1, 0), 12) // 2¹² s is past the bound already
	wait := min(time.Second<<doublings, MaxPostponement)
	return wait + rand.N(wait/10+1)
}

// slots is the webhook's slots a message's attempts go through: it takes
// one at its first attempt and keeps it until release.
type slots struct {
	s     *Service
	w     Webhook
	slot  int
	until time.Time
	held  bool
}

// limit is how many attempts w gets at once.
func limit(w Webhook) int {
	if !w.FailingSince.IsZero() {
		return 1
	}
	return MaxInFlight
}

// take holds a slot for the attempts to come; false when all are held.
func (l *slots) take(ctx context.Context) (bool, error) {
	if l.held {
		return true, nil
	}
	now := l.s.now()
	until := now.Add(FunctionTimeout)
	slot, ok, err := l.s.Store.Lease(ctx, l.w.AccountID, l.w.ID, limit(l.w), now, until)
	if err != nil || !ok {
		return false, err
	}
	l.slot, l.until, l.held = slot, until, true
	return true, nil
}

// release frees the slot held (a failure is logged: the lease ends by
// itself at its time).
func (l *slots) release(ctx context.Context, log *slog.Logger) {
	if !l.held {
		return
	}
	l.held = false
	if err := l.s.Store.Release(context.WithoutCancel(ctx), l.w.AccountID, l.w.ID, l.slot, l.until); err != nil {
		log.WarnContext(ctx, "webhook slot not released; it frees itself at its lease's end", "webhook_id", l.w.ID,
			"slot", l.slot, "until", l.until, "err", err)
	}
}
