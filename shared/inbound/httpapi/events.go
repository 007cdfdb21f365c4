package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// Events serves the account's event feed (the events function).
type Events struct {
	Feed *outbox.Feed
}

// Routes implements Feature.
func (a *Events) Routes() []Route {
	return []Route{
		{Method: "GET", Path: "/v1/events", Function: lambdas.Events, Scope: auth.ScopeRead, Handle: a.list},
	}
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
			t, err := time.Parse(time.RFC3339Nano, vals[0])
			if err != nil {
				errs.Add("since", "must be an RFC 3339 time, e.g. 2026-12-02T10:00:00Z")
			}
			q.Since = t
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
