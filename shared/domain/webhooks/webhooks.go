package webhooks

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/base/text"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// Webhook is an endpoint an account registered: the events it wants
// (all when Types is empty) are posted to URL, signed with Secret.
type Webhook struct {
	ID          string
	AccountID   string
	URL         string
	Description string
	Types       []outbox.Type
	Secret      string
	// Previous is the secret a rotation replaced: deliveries carry its
	// signature too until PreviousUntil, so the receiver can switch over.
	Previous      string
	PreviousUntil time.Time
	Enabled       bool
	// DisabledReason says why an endpoint is off: switched off by its
	// owner, or by the service after it kept failing.
	DisabledReason string
	DisabledAt     time.Time
	// FailingSince is the first failed attempt since the last success
	// (zero: the last attempt succeeded).
	FailingSince time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Wants reports whether the endpoint takes events of type t.
func (w Webhook) Wants(t outbox.Type) bool { return len(w.Types) == 0 || slices.Contains(w.Types, t) }

// Takes reports whether the webhook gets the event: it is on and wants the
// type, and the event is not a failure of its own deliveries (which it
// would fail to take too, and report again).
func (w Webhook) Takes(e outbox.Event) bool {
	if !w.Enabled || !w.Wants(e.Type) {
		return false
	}
	if e.Type == outbox.WebhookDeliveryFailed {
		var d outbox.DeliveryFailedData
		return json.Unmarshal(e.Data, &d) == nil && d.WebhookID != w.ID
	}
	return true
}

// Secrets are the secrets a delivery at now is signed with: the current
// one, and the replaced one during its grace.
func (w Webhook) Secrets(now time.Time) []string {
	out := []string{w.Secret}
	if w.Previous != "" && now.Before(w.PreviousUntil) {
		out = append(out, w.Previous)
	}
	return out
}

// Limits.
const (
	MaxPerAccount  = 20
	MaxDescription = 256 // characters
	// RotationGrace is how long a replaced secret keeps signing.
	RotationGrace = 24 * time.Hour
	// MaxRotationGrace bounds the grace a rotation may ask for.
	MaxRotationGrace = 7 * 24 * time.Hour
)

// Store keeps webhooks (in their account) and their deliveries.
type Store interface {
	// PutWebhook writes w: a new one (a conflict if its id exists) or
	// over the existing one (not found if it is gone).
	PutWebhook(ctx context.Context, w Webhook, create bool) error
	Webhook(ctx context.Context, account, id string) (Webhook, error)
	// Webhooks lists an account's webhooks, oldest first.
	Webhooks(ctx context.Context, account string) ([]Webhook, error)
	DeleteWebhook(ctx context.Context, account, id string) error
	// Failing records the first failure since the last success (nothing
	// when one is recorded); Healthy clears it.
	Failing(ctx context.Context, account, id string, at time.Time) error
	Healthy(ctx context.Context, account, id string) error
	// Lease takes one of a webhook's n attempt slots until until (a slot
	// whose lease ended by now is free) and says which; false when all n
	// are held. Release frees a slot if its lease is still the one taken
	// (until): a lease that ran out and was taken again stays.
	Lease(ctx context.Context, account, id string, n int, now, until time.Time) (slot int, ok bool, err error)
	Release(ctx context.Context, account, id string, slot int, until time.Time) error
	// Disable switches an enabled webhook off with its record of the
	// event (one transaction; a conflict when it is off already).
	Disable(ctx context.Context, w Webhook, rec *outbox.Record) error

	Delivery(ctx context.Context, webhookID, id string) (Delivery, error)
	// SaveAttempt appends an attempt to a delivery (creating it at the
	// first) and sets its state, with rec's events when it has some (one
	// transaction: webhook.delivery_failed with the failure).
	SaveAttempt(ctx context.Context, d Delivery, a Attempt, rec *outbox.Record) error
	// Deliveries lists a webhook's deliveries that pass f, newest first,
	// after a delivery id ("": from the newest): up to limit, and the id
	// to read on from ("": no more). A page may be short (even empty,
	// with an id to go on from) when f filters out many.
	Deliveries(ctx context.Context, webhookID, after string, f DeliveryFilter, limit int) ([]Delivery, string, error)
	// Record reads one outbox record (a retry rebuilds its delivery).
	Record(ctx context.Context, account, position string) (outbox.Record, error)
	// Records reads the outbox (a recovery queues its events again).
	Records(ctx context.Context, s outbox.Scan) ([]outbox.Record, string, error)
}

// Queue queues deliveries (SQS): a recovery's.
type Queue interface {
	Enqueue(ctx context.Context, ms []Message) error
}

// Service is the webhooks of accounts: registration (webhooks:admin),
// delivery and its log.
type Service struct {
	Store  Store
	Sender *Sender
	Queue  Queue // where recoveries go (the deliveries queue)
	Clock  clock.Func
	// Loopback admits http:// endpoints on loopback (local mode).
	Loopback bool
}

// New is a registration.
type New struct {
	URL         string
	Description string
	Types       []string
	Enabled     *bool
}

// Patch changes a webhook; nil fields stay.
type Patch struct {
	URL         *string
	Description *string
	Types       *[]string
	Enabled     *bool
	// Recover, with Enabled true on a webhook that was off, sends it what
	// it missed: every event of its types since it was switched off.
	Recover bool
}

func (s *Service) now() time.Time { return s.Clock.Now().UTC().Truncate(time.Microsecond) }

// checkTypes parses event types (field[i] names a bad one).
func checkTypes(field string, in []string, errs *apperr.Fields) []outbox.Type {
	var out []outbox.Type
	for i, t := range in {
		if !slices.Contains(outbox.Types, outbox.Type(t)) {
			errs.Add(field+"["+strconv.Itoa(i)+"]", "unknown event type; GET /v1/event-types lists them, e.g. file.created")
			continue
		}
		if !slices.Contains(out, outbox.Type(t)) {
			out = append(out, outbox.Type(t))
		}
	}
	return out
}

func checkDescription(d string, errs *apperr.Fields) {
	errs.AddErr(text.Check("description", d, text.Rules{MaxRunes: MaxDescription}))
}

// Create registers a webhook and returns it with its secret (shown this
// once).
func (s *Service) Create(ctx context.Context, p auth.Principal, in New) (Webhook, error) {
	if err := p.Require(auth.ScopeWebhooks); err != nil {
		return Webhook{}, err
	}
	var errs apperr.Fields
	u, err := CheckURL("url", in.URL, s.Loopback)
	if err != nil {
		e, _ := apperr.As(err)
		errs = append(errs, e.Fields...)
	}
	types := checkTypes("types", in.Types, &errs)
	checkDescription(in.Description, &errs)
	if err := errs.Err(); err != nil {
		return Webhook{}, err
	}
	have, err := s.Store.Webhooks(ctx, p.AccountID)
	if err != nil {
		return Webhook{}, err
	}
	if len(have) >= MaxPerAccount {
		return Webhook{}, apperr.New(apperr.KindConflict, "too_many_webhooks", "an account has at most 20 webhooks; delete one first")
	}
	now := s.now()
	w := Webhook{ID: uuid.NewString(), AccountID: p.AccountID, URL: u.String(), Description: in.Description, Types: types,
		Secret: NewSecret(), Enabled: in.Enabled == nil || *in.Enabled, CreatedAt: now, UpdatedAt: now}
	if !w.Enabled {
		w.DisabledReason, w.DisabledAt = ReasonOwner, now
	}
	return w, s.Store.PutWebhook(ctx, w, true)
}

// Reasons a webhook is off.
const (
	ReasonOwner   = "disabled by its owner"
	ReasonFailing = "every delivery failed for a day"
)

// List is the account's webhooks.
func (s *Service) List(ctx context.Context, p auth.Principal) ([]Webhook, error) {
	if err := p.Require(auth.ScopeWebhooks); err != nil {
		return nil, err
	}
	return s.Store.Webhooks(ctx, p.AccountID)
}

// Get reads one of the account's webhooks.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Webhook, error) {
	if err := p.Require(auth.ScopeWebhooks); err != nil {
		return Webhook{}, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return Webhook{}, notFound()
	}
	w, err := s.Store.Webhook(ctx, p.AccountID, id)
	if err == apperr.ErrNotFound {
		return Webhook{}, notFound()
	}
	return w, err
}

func notFound() error {
	return apperr.New(apperr.KindNotFound, "webhook_not_found", "no such webhook in this account")
}

// Update changes a webhook. Enabling one that was off (by its owner or
// for failing) clears its failure streak.
func (s *Service) Update(ctx context.Context, p auth.Principal, id string, in Patch) (Webhook, error) {
	w, err := s.Get(ctx, p, id)
	if err != nil {
		return Webhook{}, err
	}
	var errs apperr.Fields
	if in.URL != nil {
		if u, err := CheckURL("url", *in.URL, s.Loopback); err != nil {
			e, _ := apperr.As(err)
			errs = append(errs, e.Fields...)
		} else {
			w.URL = u.String()
		}
	}
	if in.Types != nil {
		w.Types = checkTypes("types", *in.Types, &errs)
	}
	if in.Description != nil {
		checkDescription(*in.Description, &errs)
		w.Description = *in.Description
	}
	if err := errs.Err(); err != nil {
		return Webhook{}, err
	}
	if in.Recover && (in.Enabled == nil || !*in.Enabled || w.Enabled) {
		return Webhook{}, apperr.Invalid("recover", "recovers what a webhook missed while it was off: send it with enabled true to a disabled webhook (POST /v1/webhooks/{id}/recover any time)")
	}
	now := s.now()
	missedSince := w.DisabledAt
	if in.Enabled != nil && *in.Enabled != w.Enabled {
		w.Enabled = *in.Enabled
		w.DisabledReason, w.DisabledAt, w.FailingSince = "", time.Time{}, time.Time{}
		if !w.Enabled {
			w.DisabledReason, w.DisabledAt = ReasonOwner, now
		}
	}
	w.UpdatedAt = now
	if err := s.Store.PutWebhook(ctx, w, false); err != nil {
		return Webhook{}, err
	}
	if in.Recover {
		_, err := s.startRecovery(ctx, w, later(missedSince, now.Add(-outbox.Retention)), now)
		return w, err
	}
	return w, nil
}

// Rotate gives a webhook a new secret (returned this once); the old one
// keeps signing deliveries, beside the new, for grace (RotationGrace
// unless asked; 0 ends it now). Only the secret it replaces stays: one
// replaced within its grace ends with this rotation.
func (s *Service) Rotate(ctx context.Context, p auth.Principal, id string, grace time.Duration) (Webhook, error) {
	if grace < 0 || grace > MaxRotationGrace {
		return Webhook{}, apperr.Invalid("grace_seconds", "must be from 0 (the old secret ends now) to 604800 (7 days)")
	}
	w, err := s.Get(ctx, p, id)
	if err != nil {
		return Webhook{}, err
	}
	now := s.now()
	w.Previous, w.PreviousUntil, w.Secret, w.UpdatedAt = w.Secret, now.Add(grace), NewSecret(), now
	if grace == 0 {
		w.Previous, w.PreviousUntil = "", time.Time{}
	}
	return w, s.Store.PutWebhook(ctx, w, false)
}

// Delete removes a webhook; deliveries under way stop.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string) error {
	if _, err := s.Get(ctx, p, id); err != nil {
		return err
	}
	return s.Store.DeleteWebhook(ctx, p.AccountID, id)
}
