package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/inbound/openapi"
)

// Events serves the account's event feed (the events function).
type Events struct {
	Feed *outbox.Feed
}

// Routes implements Feature.
func (a *Events) Routes() []Route {
	return []Route{
		{Method: "GET", Path: "/v1/events", Function: lambdas.Events, Scope: auth.ScopeRead, Handle: a.list},
		{Method: "GET", Path: "/v1/event-types", Function: lambdas.Events, Public: true, Handle: eventTypes},
	}
}

// eventType is an entry of the catalogue as GET /v1/event-types shows it.
type eventType struct {
	Type        outbox.Type    `json:"type"`
	Description string         `json:"description"`
	InFeed      bool           `json:"in_feed"`
	DataSchema  map[string]any `json:"data_schema"`
}

// catalogue is the answer of GET /v1/event-types, built once: the
// catalogue with each type's data schema out of the OpenAPI document.
var catalogue = sync.OnceValues(func() ([]byte, error) {
	out := struct {
		PayloadVersion int         `json:"payload_version"`
		EventTypes     []eventType `json:"event_types"`
	}{PayloadVersion: outbox.PayloadVersion}
	for _, k := range outbox.Catalogue {
		schema, err := openapi.Schema(k.Schema)
		if err != nil {
			return nil, err
		}
		out.EventTypes = append(out.EventTypes, eventType{Type: k.Type, Description: k.Description, InFeed: k.Type != outbox.WebhookTest, DataSchema: schema})
	}
	return json.Marshal(out)
})

// eventTypes answers the event catalogue (public: it is documentation).
func eventTypes(context.Context, Request, auth.Principal) (Response, error) {
	b, err := catalogue()
	if err != nil {
		return Response{}, err
	}
	return Response{StatusCode: http.StatusOK, Body: string(b),
		Headers: map[string]string{"Content-Type": "application/json", "Cache-Control": "public, max-age=300"}}, nil
}

// parseTime reads an RFC 3339 time given as field, or adds the field's
// problem to errs.
func parseTime(field, v string, errs *apperr.Fields) time.Time {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		errs.Add(field, "must be an RFC 3339 time, e.g. 2026-12-02T10:00:00Z")
	}
	return t
}

// list answers a page of events after the cursor `after`, optionally of
// some types (`type[]`, repeated), `limit` at most (1–500, 100).
func (a *Events) list(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	v, _ := url.ParseQuery(req.RawQueryString)
	var errs apperr.Fields
	q := outbox.Query{Cursor: v.Get("after")}
	for k, vals := range v {
		switch k {
		case "after":
		case "since":
			q.Since = parseTime("since", vals[0], &errs)
		case "type[]", "type":
			for _, t := range vals {
				q.Types = append(q.Types, outbox.Type(t))
			}
		case "limit":
			n, err := strconv.Atoi(vals[0])
			if err != nil || n < 1 || n > outbox.MaxLimit {
				errs.Add("limit", "must be an integer from 1 to 500")
			}
			q.Limit = n
		default:
			errs.Add(k, "unknown query parameter (after, since, type[], limit)")
		}
	}
	if err := errs.Err(); err != nil {
		return Response{}, err
	}
	page, err := a.Feed.List(ctx, p, q)
	if err != nil {
		return Response{}, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = outbox.DefaultLimit
	}
	self := "/v1/events"
	if req.RawQueryString != "" {
		self += "?" + req.RawQueryString
	}
	v.Set("after", page.Cursor)
	return JSON(http.StatusOK, map[string]any{
		"_page":     map[string]any{"limit": limit, "count": len(page.Events), "next_cursor": page.Cursor},
		"_links":    map[string]Link{"self": {Href: self}, "next": {Href: "/v1/events?" + v.Encode()}},
		"_embedded": map[string]any{"events": page.Events},
	})
}
