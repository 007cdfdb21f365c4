package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// Delivery is one event's delivery to one webhook, with its attempts.
type Delivery struct {
	ID        string // the event's id: every attempt's webhook-id
	WebhookID string
	AccountID string
	Type      outbox.Type
	// Position is the outbox record the event is in (a retry reads it
	// back); "" for a test delivery.
	Position string
	State    string
	// Tries is the automatic attempts made in this round (the queue's
	// receives may be more: a receive Lambda throttled is no attempt).
	Tries     int
	Attempts  []Attempt
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Delivery states.
const (
	StatePending   = "pending"   // failed so far; retried on the schedule
	StateDelivered = "delivered" // an attempt got a 2xx
	StateFailed    = "failed"    // retries ran out, or the webhook is off
)

// MaxAttemptsKept bounds the attempts a delivery keeps (the newest).
const MaxAttemptsKept = 20

// Backoff is the wait after each failed automatic attempt: a delivery is
// tried MaxAttempts times over about 28 hours, then given up (moved to the
// dead-letter queue). Each wait gets up to 10 % jitter.
var Backoff = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// MaxAttempts is the automatic attempts of a delivery, counted on the
// delivery itself (Tries).
var MaxAttempts = len(Backoff) + 1

// MaxReceives is the deliveries queue's maxReceiveCount: only a message
// whose every receive crashed or timed out goes to the dead-letter queue
// this way (2.5 hours of crashes at the queue's visibility); one whose
// attempts ran out is moved there by the delivery function (GiveUp).
const MaxReceives = 50

// The deliveries queue and its event source mapping (the stack and local
// mode set both): a message whose attempt crashed is received again
// after QueueVisibility (six times the delivery function's timeout, as
// AWS advises); the function gets up to QueueBatch messages at once.
const (
	QueueVisibility = 6 * FunctionTimeout
	QueueBatch      = 10
)

// Concurrency is how many batches the delivery function is given at
// once, by default: the stack's event source mapping's maximum
// concurrency (-c deliveriesConcurrency) and local mode's. Each batch's
// messages go out in parallel, and a batch that waits on a slow endpoint
// holds one of these, never the others.
const Concurrency = 20

// Message is the deliveries to make of one change to one webhook: what
// the dispatcher queues for the delivery function, the change's events
// the webhook takes, in their order (a Wegly batch: batch.created, then
// its files' file.created, then their file.attached). They are sent one
// after the other, each once it is delivered, so the receiver gets them
// in that order.
type Message struct {
	WebhookID string            `json:"webhook_id"`
	Position  string            `json:"position"`
	Events    []outbox.Envelope `json:"events"`
	// Event is the one event of a message queued by a version that sent
	// each event alone (read so that a deploy loses none, never written).
	Event *outbox.Envelope `json:"event,omitempty"`
	// Recover, instead of events, is a recovery's next step.
	Recover *Recovery `json:"recover,omitempty"`
	// Receives is how many times the queue has handed the message out,
	// this one included (SQS's ApproximateReceiveCount; not in the body).
	Receives int `json:"-"`
}

// MessageOf is the message of a change (its record's position and
// envelopes) for w: the events w takes, in their order; false when it
// takes none. The dispatcher and a recovery queue these, a replay counts
// them.
func MessageOf(w Webhook, position string, envs []outbox.Envelope) (Message, bool) {
	m := Message{WebhookID: w.ID, Position: position}
	for _, env := range envs {
		if w.Takes(env.Event) {
			m.Events = append(m.Events, env)
		}
	}
	return m, len(m.Events) > 0
}

// AccountID is the account the message is about.
func (m Message) AccountID() string {
	if m.Recover != nil {
		return m.Recover.AccountID
	}
	if evs := m.Deliveries(); len(evs) > 0 {
		return evs[0].AccountID
	}
	return ""
}

// Deliveries is the message's events, in their order.
func (m Message) Deliveries() []outbox.Envelope {
	if len(m.Events) == 0 && m.Event != nil {
		return []outbox.Envelope{*m.Event}
	}
	return m.Events
}

// Outcome is what a delivery attempt leaves to the queue.
type Outcome struct {
	// Done: delivered, or nothing to do (the message goes).
	Done bool
	// RetryIn is when the message is received again (not Done).
	RetryIn time.Duration
	// GiveUp: the last attempt failed; the message goes to the
	// dead-letter queue.
	GiveUp bool
	// Postponed: no attempt was made, every slot of the endpoint being
	// held (RetryIn is Postponement's).
	Postponed bool
}

// Deliver sends a message's events in their order: each not delivered
// yet gets its next automatic attempt, and the first that fails stops the
// message there (the events after it wait, so none overtakes it). After a
// failure it returns the failed delivery's wait before its next attempt;
// when the endpoint has no free slot (inflight.go), the postponement's.
// When that delivery is given up, the events after it are logged failed,
// unsent (a recovery or a redriven message sends them).
func (s *Service) Deliver(ctx context.Context, m Message, log *slog.Logger) (Outcome, error) {
	evs := m.Deliveries()
	if len(evs) == 0 && m.Recover == nil {
		return Outcome{Done: true}, nil
	}
	w, err := s.Store.Webhook(ctx, m.AccountID(), m.WebhookID)
	if errors.Is(err, apperr.ErrNotFound) {
		return Outcome{Done: true}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	if m.Recover != nil {
		return s.recoverStep(ctx, w, *m.Recover)
	}
	in := &slots{s: s, w: w}
	defer in.release(ctx, log)
	for i, ev := range evs {
		out, err := s.deliverOne(ctx, w, m.Position, ev, in, log)
		if err != nil {
			return Outcome{}, err
		}
		if out.Done {
			continue
		}
		if out.Postponed {
			out.RetryIn = Postponement(m.Receives)
			return out, nil
		}
		if out.GiveUp {
			for _, rest := range evs[i+1:] {
				if err := s.holdBack(ctx, w, m.Position, rest, ev.ID); err != nil {
					return Outcome{}, err
				}
			}
		}
		return out, nil
	}
	return Outcome{Done: true}, nil
}

// holdBack logs an event failed, unsent, behind the event of its change
// that was given up.
func (s *Service) holdBack(ctx context.Context, w Webhook, position string, ev outbox.Envelope, behind string) error {
	d, err := s.delivery(ctx, w, position, ev)
	if err != nil || d.State == StateDelivered {
		return err
	}
	d.State = StateFailed
	return s.Store.SaveAttempt(ctx, d, Attempt{At: s.now(), Error: "not sent: event " + behind + " of the same change was given up before it"}, nil)
}

// deliverOne makes the next automatic attempt of one delivery (its
// Tries plus one; a delivery given up before starts a new round: a
// message redriven from the dead-letter queue). A webhook switched off
// fails the delivery without sending; an event delivered already (a
// repeated message) is not sent again. The last failure of an endpoint
// that has had no success since the delivery's first attempt (a day of
// failures) switches the webhook off and reports it (a webhook.disabled
// event). The attempt goes through one of the endpoint's slots (in);
// with none free it is postponed, unmade.
func (s *Service) deliverOne(ctx context.Context, w Webhook, position string, ev outbox.Envelope, in *slots, log *slog.Logger) (Outcome, error) {
	d, err := s.delivery(ctx, w, position, ev)
	if err != nil || d.State == StateDelivered {
		return Outcome{Done: true}, err
	}
	if !w.Enabled {
		d.State = StateFailed
		return Outcome{Done: true}, s.Store.SaveAttempt(ctx, d, Attempt{At: s.now(), Error: "not sent: the webhook is disabled (" + w.DisabledReason + ")"}, nil)
	}
	if d.State == StateFailed {
		d.Tries = 0
	}
	if ok, err := in.take(ctx); err != nil || !ok {
		return Outcome{Postponed: true}, err
	}
	a := s.send(ctx, w, ev)
	if len(d.Attempts) == 0 {
		d.CreatedAt = a.At // its first attempt
	}
	d.Tries++
	n := d.Tries
	final := n >= MaxAttempts
	switch {
	case a.OK():
		d.State = StateDelivered
	case final:
		d.State = StateFailed
	default:
		d.State = StatePending
	}
	var rec *outbox.Record
	if d.State == StateFailed {
		rec = outbox.NewRecord(w.AccountID, a.At).Add(outbox.WebhookDeliveryFailed, outbox.DeliveryFailedData{
			WebhookID: w.ID, URL: w.URL, EventID: d.ID, EventType: d.Type, Attempts: d.Tries, LastError: a.Problem(), FailedAt: a.At})
	}
	if err := s.Store.SaveAttempt(ctx, d, a, rec); err != nil {
		return Outcome{}, err
	}
	disabled, err := s.health(ctx, w, d, a, final)
	if err != nil {
		return Outcome{}, err
	}
	if disabled {
		log.ErrorContext(ctx, "webhook disabled", "account_id", w.AccountID, "webhook_id", w.ID, "url", w.URL,
			"failing_since", w.FailingSince, "reason", ReasonFailing)
	}
	switch {
	case a.OK():
		return Outcome{Done: true}, nil
	case final:
		return Outcome{GiveUp: true}, nil
	}
	wait := Backoff[min(n, len(Backoff))-1]
	return Outcome{RetryIn: wait + rand.N(wait/10+1)}, nil
}

// delivery reads a delivery's log, or starts one.
func (s *Service) delivery(ctx context.Context, w Webhook, position string, ev outbox.Envelope) (Delivery, error) {
	d, err := s.Store.Delivery(ctx, w.ID, ev.ID)
	if errors.Is(err, apperr.ErrNotFound) {
		now := s.now()
		return Delivery{ID: ev.ID, WebhookID: w.ID, AccountID: w.AccountID, Type: ev.Type, Position: position,
			State: StatePending, CreatedAt: now, UpdatedAt: now}, nil
	}
	return d, err
}

// send signs and posts one event.
func (s *Service) send(ctx context.Context, w Webhook, ev outbox.Envelope) Attempt {
	body, err := json.Marshal(ev)
	if err != nil {
		return Attempt{At: s.now(), Error: err.Error()}
	}
	now := s.now()
	return s.Sender.Send(ctx, w.URL, w.Secrets(now), ev.ID, now, body)
}

// health keeps the webhook's failure streak (any attempt, manual ones
// too), and switches it off after a delivery's last automatic attempt
// failed with no success since its first (disabled reports that).
func (s *Service) health(ctx context.Context, w Webhook, d Delivery, a Attempt, final bool) (disabled bool, err error) {
	if a.OK() {
		if w.FailingSince.IsZero() {
			return false, nil
		}
		return false, s.Store.Healthy(ctx, w.AccountID, w.ID)
	}
	since := w.FailingSince
	if since.IsZero() {
		since = a.At
		if err := s.Store.Failing(ctx, w.AccountID, w.ID, a.At); err != nil {
			return false, err
		}
	}
	if !final || since.After(d.CreatedAt) {
		return false, nil
	}
	now := s.now()
	w.Enabled, w.DisabledReason, w.DisabledAt, w.UpdatedAt = false, ReasonFailing, now, now
	rec := outbox.NewRecord(w.AccountID, now).Add(outbox.WebhookDisabled, outbox.WebhookData{ID: w.ID, URL: w.URL, Reason: w.DisabledReason, DisabledAt: now})
	err = s.Store.Disable(ctx, w, rec)
	if errors.Is(err, apperr.ErrConflict) {
		return false, nil // switched off already
	}
	return err == nil, err
}

// Test sends a webhook.test event to a webhook now (enabled or not) and
// returns its delivery.
func (s *Service) Test(ctx context.Context, p auth.Principal, id string) (Delivery, error) {
	w, err := s.Get(ctx, p, id)
	if err != nil {
		return Delivery{}, err
	}
	rec := outbox.NewRecord(w.AccountID, s.now()).Add(outbox.WebhookTest, testData(w))
	ev := outbox.Envelope{Event: rec.Events[0], AccountID: w.AccountID}
	d := Delivery{ID: ev.ID, WebhookID: w.ID, AccountID: w.AccountID, Type: outbox.WebhookTest, CreatedAt: ev.Time}
	return s.attemptNow(ctx, w, d, ev)
}

// Retry sends a delivery again now (after its endpoint is fixed, say):
// the same event, under the same webhook-id.
func (s *Service) Retry(ctx context.Context, p auth.Principal, id, deliveryID string) (Delivery, error) {
	w, err := s.Get(ctx, p, id)
	if err != nil {
		return Delivery{}, err
	}
	d, err := s.getDelivery(ctx, w, deliveryID)
	if err != nil {
		return Delivery{}, err
	}
	ev := outbox.Envelope{Event: outbox.Event{ID: d.ID, Type: d.Type, Time: d.CreatedAt}, AccountID: w.AccountID}
	if d.Position == "" {
		ev.Data, _ = json.Marshal(testData(w))
	} else {
		rec, err := s.Store.Record(ctx, w.AccountID, d.Position)
		if errors.Is(err, apperr.ErrNotFound) {
			return Delivery{}, apperr.New(apperr.KindGone, "event_expired", "the event is past its 30 days and cannot be sent again")
		}
		if err != nil {
			return Delivery{}, err
		}
		found := false
		for _, e := range rec.Sequenced() {
			if e.ID == d.ID {
				ev.Event, found = e, true
			}
		}
		if !found {
			return Delivery{}, errors.New("webhooks: delivery " + d.ID + " is not in its record")
		}
	}
	return s.attemptNow(ctx, w, d, ev)
}

// attemptNow makes a manual attempt and logs it with the delivery.
func (s *Service) attemptNow(ctx context.Context, w Webhook, d Delivery, ev outbox.Envelope) (Delivery, error) {
	a := s.send(ctx, w, ev)
	switch {
	case a.OK():
		d.State = StateDelivered
	case d.State == "":
		d.State = StateFailed // a test: nothing else will try again
	}
	if err := s.Store.SaveAttempt(ctx, d, a, nil); err != nil {
		return Delivery{}, err
	}
	if _, err := s.health(ctx, w, d, a, false); err != nil {
		return Delivery{}, err
	}
	d.Attempts = append(d.Attempts, a)
	d.UpdatedAt = a.At
	return d, nil
}

func (s *Service) getDelivery(ctx context.Context, w Webhook, id string) (Delivery, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Delivery{}, deliveryNotFound()
	}
	d, err := s.Store.Delivery(ctx, w.ID, id)
	if errors.Is(err, apperr.ErrNotFound) {
		return Delivery{}, deliveryNotFound()
	}
	return d, err
}

// testData is a webhook.test event's payload.
func testData(w Webhook) outbox.TestData {
	return outbox.TestData{WebhookID: w.ID, Message: "a test delivery from Anexo"}
}

func deliveryNotFound() error {
	return apperr.New(apperr.KindNotFound, "delivery_not_found", "no such delivery of this webhook")
}

// MaxDeliveriesPage bounds a page of the deliveries log.
const MaxDeliveriesPage = 100

// DeliveriesBudget bounds the deliveries a page evaluates: a selective
// filter answers a short page (even an empty one) with a cursor to go on.
const DeliveriesBudget = 1000

// DeliveryFilter selects deliveries of the log; a zero field selects all.
type DeliveryFilter struct {
	State        string
	Type         outbox.Type
	Since, Until time.Time // its first attempt at or after Since, before Until
}

// Passes reports whether d is one f selects.
func (f DeliveryFilter) Passes(d Delivery) bool {
	return (f.State == "" || d.State == f.State) && (f.Type == "" || d.Type == f.Type) &&
		(f.Since.IsZero() || !d.CreatedAt.Before(f.Since)) && (f.Until.IsZero() || d.CreatedAt.Before(f.Until))
}

// Deliveries reads a page of a webhook's deliveries that pass f, newest
// first, after the delivery id after; next is the id to read on from ("":
// the end).
func (s *Service) Deliveries(ctx context.Context, p auth.Principal, id, after string, f DeliveryFilter, limit int) ([]Delivery, string, error) {
	w, err := s.Get(ctx, p, id)
	if err != nil {
		return nil, "", err
	}
	var errs apperr.Fields
	if after != "" {
		if _, err := uuid.Parse(after); err != nil {
			errs.Add("after", "must be a delivery id from a previous page")
		}
	}
	if f.State != "" && f.State != StatePending && f.State != StateDelivered && f.State != StateFailed {
		errs.Add("state", "must be pending, delivered or failed")
	}
	if f.Type != "" && !slices.Contains(outbox.Types, f.Type) {
		errs.Add("type", "unknown event type; GET /v1/event-types lists them")
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		errs.Add("until", "must be after since")
	}
	if err := errs.Err(); err != nil {
		return nil, "", err
	}
	return s.Store.Deliveries(ctx, w.ID, after, f, limit)
}
