package webhooks

import (
	"context"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// Recovery is a recovery under way: the webhook's events of a window of
// the account's outbox, queued again page by page (a message that queues
// a page's deliveries and the recovery's next step).
type Recovery struct {
	AccountID string    `json:"account_id"`
	Since     time.Time `json:"since"`
	Until     time.Time `json:"until"`
	// After is the last record queued ("": none yet).
	After string `json:"after,omitempty"`
}

// RecoverPage is how many outbox records a recovery step reads.
const RecoverPage = 100

// Recover sends a webhook every event of its types written since since
// (up to the outbox's 30 days), each under its original webhook-id: what
// it missed while it was off, or while its endpoint failed. An event it
// took already is not sent again; one it failed gets a new round of
// attempts. The events are queued in the background, a page at a time;
// the answer is the recovery's window.
func (s *Service) Recover(ctx context.Context, p auth.Principal, id string, since time.Time) (Recovery, error) {
	w, err := s.Get(ctx, p, id)
	if err != nil {
		return Recovery{}, err
	}
	now := s.now()
	switch {
	case since.IsZero():
		return Recovery{}, apperr.Invalid("since", "is required: an RFC 3339 time within the last 30 days")
	case since.Before(now.Add(-outbox.Retention)):
		return Recovery{}, apperr.Invalid("since", "is more than 30 days ago: events are kept 30 days")
	case since.After(now):
		return Recovery{}, apperr.Invalid("since", "is in the future")
	case !w.Enabled:
		return Recovery{}, apperr.New(apperr.KindConflict, "webhook_disabled", "the webhook is off: switch it on with recover true (PATCH) to send it what it missed")
	}
	return s.startRecovery(ctx, w, since, now)
}

// startRecovery queues a recovery's first step.
func (s *Service) startRecovery(ctx context.Context, w Webhook, since, until time.Time) (Recovery, error) {
	r := Recovery{AccountID: w.AccountID, Since: since.UTC(), Until: until.UTC()}
	return r, s.Queue.Enqueue(ctx, []Message{{WebhookID: w.ID, Recover: &r}})
}

// recoverStep queues the deliveries of the next page of a recovery's
// window, then the step after it. A step run twice (a crash before its
// message is deleted) queues its page twice: the delivery function sends
// an event the webhook took only once.
func (s *Service) recoverStep(ctx context.Context, w Webhook, r Recovery) (Outcome, error) {
	if !w.Enabled {
		return Outcome{Done: true}, nil // switched off since: it takes nothing
	}
	recs, next, err := s.Store.Records(ctx, outbox.Scan{AccountID: r.AccountID, After: r.After, Since: r.Since, Until: r.Until,
		Limit: RecoverPage, Budget: RecoverPage})
	if err != nil {
		return Outcome{}, err
	}
	var ms []Message
	for _, rec := range recs {
		if m, ok := MessageOf(w, rec.Position, rec.Envelopes()); ok {
			ms = append(ms, m)
		}
	}
	if next != "" {
		r.After = next
		ms = append(ms, Message{WebhookID: w.ID, Recover: &r})
	}
	if len(ms) > 0 {
		if err := s.Queue.Enqueue(ctx, ms); err != nil {
			return Outcome{}, err
		}
	}
	return Outcome{Done: true}, nil
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
