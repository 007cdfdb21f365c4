package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// Webhooks serves the account's webhooks (the webhooks function, scope
// webhooks:admin): register, read, change, remove, rotate a secret, send
// a test, read the deliveries log and retry a delivery. A secret appears
// in the answers that make it only.
type Webhooks struct {
	Svc     *webhooks.Service
	Current SecretCheck // every route takes the token's current secret
}

// Routes implements Feature.
func (a *Webhooks) Routes() []Route {
	route := func(method, path string, h Endpoint) Route {
		return Route{Method: method, Path: path, Function: lambdas.Webhooks, Scope: auth.ScopeWebhooks, Handle: currentOnly(a.Current, h)}
	}
	return []Route{
		route("GET", "/v1/webhooks", a.list),
		route("POST", "/v1/webhooks", a.create),
		route("GET", "/v1/webhooks/{id}", a.get),
		route("PATCH", "/v1/webhooks/{id}", a.update),
		route("DELETE", "/v1/webhooks/{id}", a.delete),
		route("POST", "/v1/webhooks/{id}/rotate", a.rotate),
		route("POST", "/v1/webhooks/{id}/test", a.test),
		route("POST", "/v1/webhooks/{id}/recover", a.recover),
		route("GET", "/v1/webhooks/{id}/deliveries", a.deliveries),
		route("POST", "/v1/webhooks/{id}/deliveries/{delivery}/retry", a.retry),
	}
}

// WebhookView is a webhook as the API shows it: never its secret.
type WebhookView struct {
	ID             string          `json:"id"`
	URL            string          `json:"url"`
	Description    string          `json:"description"`
	Types          []outbox.Type   `json:"types"` // empty: every event
	Enabled        bool            `json:"enabled"`
	DisabledReason *string         `json:"disabled_reason"`
	DisabledAt     *time.Time      `json:"disabled_at"`
	FailingSince   *time.Time      `json:"failing_since"`
	PreviousUntil  *time.Time      `json:"previous_secret_valid_until"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	Links          map[string]Link `json:"_links"`
}

// ViewWebhook renders a webhook at now.
func ViewWebhook(w webhooks.Webhook, now time.Time) WebhookView {
	self := "/v1/webhooks/" + w.ID
	v := WebhookView{ID: w.ID, URL: w.URL, Description: w.Description, Types: w.Types, Enabled: w.Enabled,
		DisabledReason: optString(w.DisabledReason), DisabledAt: optTime(w.DisabledAt), FailingSince: optTime(w.FailingSince),
		CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC(),
		Links: map[string]Link{"self": {Href: self}, "deliveries": {Href: self + "/deliveries"}}}
	if v.Types == nil {
		v.Types = []outbox.Type{}
	}
	if w.Previous != "" && now.Before(w.PreviousUntil) {
		v.PreviousUntil = optTime(w.PreviousUntil)
	}
	return v
}

// AttemptView is one delivery attempt.
type AttemptView struct {
	At        time.Time `json:"at"`
	Status    *int      `json:"status"` // null: no answer
	LatencyMS int64     `json:"latency_ms"`
	Response  string    `json:"response"`
	Error     *string   `json:"error"`
}

// DeliveryView is one event's delivery to a webhook.
type DeliveryView struct {
	ID        string          `json:"id"` // the event id, sent as webhook-id
	EventType outbox.Type     `json:"event_type"`
	State     string          `json:"state"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Attempts  []AttemptView   `json:"attempts"`
	Links     map[string]Link `json:"_links"`
}

// ViewDelivery renders a delivery.
func ViewDelivery(d webhooks.Delivery) DeliveryView {
	v := DeliveryView{ID: d.ID, EventType: d.Type, State: d.State, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
		Attempts: []AttemptView{}, Links: map[string]Link{"retry": {Href: "/v1/webhooks/" + d.WebhookID + "/deliveries/" + d.ID + "/retry"}}}
	for _, a := range d.Attempts {
		av := AttemptView{At: a.At.UTC(), LatencyMS: a.Latency.Milliseconds(), Response: a.Response, Error: optString(a.Error)}
		if a.Status != 0 {
			av.Status = &a.Status
		}
		v.Attempts = append(v.Attempts, av)
	}
	return v
}

func (a *Webhooks) now() time.Time { return a.Svc.Clock.Now() }

func (a *Webhooks) list(ctx context.Context, _ Request, p auth.Principal) (Response, error) {
	ws, err := a.Svc.List(ctx, p)
	if err != nil {
		return Response{}, err
	}
	views := make([]WebhookView, len(ws))
	for i, w := range ws {
		views[i] = ViewWebhook(w, a.now())
	}
	return JSON(http.StatusOK, map[string]any{"webhooks": views})
}

func (a *Webhooks) get(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	w, err := a.Svc.Get(ctx, p, PathParam(req, "id"))
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, ViewWebhook(w, a.now()))
}

type webhookBody struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	Types       *[]string `json:"types"`
	Enabled     *bool     `json:"enabled"`
	Recover     *bool     `json:"recover"` // PATCH: with enabled true, send what it missed while off
}

func (a *Webhooks) create(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	var b webhookBody
	if err := DecodeJSON(req, &b); err != nil {
		return Response{}, err
	}
	if b.URL == nil {
		return Response{}, apperr.Invalid("url", "is required: the https URL deliveries are posted to")
	}
	if b.Recover != nil {
		return Response{}, apperr.Invalid("recover", "a new webhook has missed nothing: recover is for switching one back on (PATCH)")
	}
	in := webhooks.New{URL: *b.URL, Enabled: b.Enabled}
	if b.Description != nil {
		in.Description = *b.Description
	}
	if b.Types != nil {
		in.Types = *b.Types
	}
	w, err := a.Svc.Create(ctx, p, in)
	if err != nil {
		return Response{}, err
	}
	return withSecret(http.StatusCreated, w, a.now())
}

// withSecret is the one answer that shows a secret: the webhook and it.
func withSecret(status int, w webhooks.Webhook, now time.Time) (Response, error) {
	r, err := JSON(status, map[string]any{"webhook": ViewWebhook(w, now), "secret": w.Secret})
	if status == http.StatusCreated {
		r.Headers["Location"] = "/v1/webhooks/" + w.ID
	}
	return r, err
}

func (a *Webhooks) update(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	var b webhookBody
	if err := DecodeJSON(req, &b); err != nil {
		return Response{}, err
	}
	w, err := a.Svc.Update(ctx, p, PathParam(req, "id"), webhooks.Patch{URL: b.URL, Description: b.Description, Types: b.Types, Enabled: b.Enabled,
		Recover: b.Recover != nil && *b.Recover})
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, ViewWebhook(w, a.now()))
}

func (a *Webhooks) delete(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	if err := a.Svc.Delete(ctx, p, PathParam(req, "id")); err != nil {
		return Response{}, err
	}
	return NoContent()
}

func (a *Webhooks) rotate(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	grace, err := rotationGrace(req, webhooks.RotationGrace, webhooks.MaxRotationGrace)
	if err != nil {
		return Response{}, err
	}
	w, err := a.Svc.Rotate(ctx, p, PathParam(req, "id"), grace)
	if err != nil {
		return Response{}, err
	}
	now := a.now()
	return JSON(http.StatusOK, map[string]any{"webhook": ViewWebhook(w, now), "secret": w.Secret,
		"previous_secrets_valid": len(w.Secrets(now)) - 1})
}

func (a *Webhooks) test(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	d, err := a.Svc.Test(ctx, p, PathParam(req, "id"))
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, ViewDelivery(d))
}

// recover queues the webhook's events since a time again (202: they go
// in the background).
func (a *Webhooks) recover(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	var b struct {
		Since *string `json:"since"`
	}
	if err := DecodeJSON(req, &b); err != nil {
		return Response{}, err
	}
	var since time.Time
	var errs apperr.Fields
	if b.Since != nil {
		since = parseTime("since", *b.Since, &errs)
	}
	if err := errs.Err(); err != nil {
		return Response{}, err
	}
	id := PathParam(req, "id")
	r, err := a.Svc.Recover(ctx, p, id, since)
	if err != nil {
		return Response{}, err
	}
	self := "/v1/webhooks/" + id
	return JSON(http.StatusAccepted, map[string]any{"since": r.Since, "until": r.Until,
		"_links": map[string]Link{"webhook": {Href: self}, "deliveries": {Href: self + "/deliveries"}}})
}

func (a *Webhooks) retry(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	d, err := a.Svc.Retry(ctx, p, PathParam(req, "id"), PathParam(req, "delivery"))
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, ViewDelivery(d))
}

// DefaultDeliveriesPage is a page of the deliveries log without limit=.
const DefaultDeliveriesPage = 20

func (a *Webhooks) deliveries(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	v, _ := url.ParseQuery(req.RawQueryString)
	var errs apperr.Fields
	limit := DefaultDeliveriesPage
	var f webhooks.DeliveryFilter
	for k, vals := range v {
		switch k {
		case "after":
		case "limit":
			limit = limitParam(vals[0], webhooks.MaxDeliveriesPage, &errs)
		case "state":
			f.State = vals[0]
		case "type":
			f.Type = outbox.Type(vals[0])
		case "since":
			f.Since = parseTime(k, vals[0], &errs)
		case "until":
			f.Until = parseTime(k, vals[0], &errs)
		default:
			errs.Add(k, "unknown query parameter (after, limit, state, type, since, until)")
		}
	}
	if err := errs.Err(); err != nil {
		return Response{}, err
	}
	id := PathParam(req, "id")
	ds, next, err := a.Svc.Deliveries(ctx, p, id, v.Get("after"), f, limit)
	if err != nil {
		return Response{}, err
	}
	views := make([]DeliveryView, len(ds))
	for i, d := range ds {
		views[i] = ViewDelivery(d)
	}
	return afterPage(req, "/v1/webhooks/"+id+"/deliveries", v, next, limit, len(views), "deliveries", views,
		map[string]Link{"webhook": {Href: "/v1/webhooks/" + id}})
}
