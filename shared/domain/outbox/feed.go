package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/keyring"
)

// Scan asks the outbox for an account's records after a position.
type Scan struct {
	AccountID string
	After     string    // a record's position ("": from Since, or the oldest kept)
	Since     time.Time // without After: records at or after this time
	Until     time.Time // records at or before this time
	Types     []Type    // only records with one of these (none: all)
	Limit     int       // records
	Budget    int       // records evaluated (read, filtered or not)
}

// Outbox reads the records the state changes wrote.
type Outbox interface {
	// Records returns the records of s, oldest first, and the position of
	// the last record evaluated when it stopped early (the limit or the
	// budget), "" when it read everything up to s.Until.
	Records(ctx context.Context, s Scan) ([]Record, string, error)
}

// Feed is GET /v1/events: an account's events in order, from a signed
// cursor.
type Feed struct {
	Store   Outbox
	Cursors *keyring.Ring // signs cursors for Retention
	Clock   clock.Func
	// Settle is how old an event is when it is served (0: Settle; tests
	// with a real clock shorten it).
	Settle time.Duration
}

// Settle bounds how long after its time an event can land: a change's
// record is timed just before its transaction, which lands (with the SDK's
// and the adapter's retries) well within it or not at all. The feed serves
// events once they are Settle old: nothing can then land before them, so
// a cursor never skips one, and none is served twice. Integrations that
// need them sooner take webhooks or the EventBridge bus (sub-second).
const Settle = 30 * time.Second

// Page limits.
const (
	DefaultLimit = 100
	MaxLimit     = 500
	// PageBudget bounds the records one page evaluates (a selective type
	// filter returns a short page with a cursor rather than reading on).
	PageBudget = 1000
)

// Query is one request of the feed.
type Query struct {
	Cursor string    // from a previous page; "" reads from Since
	Since  time.Time // without a cursor: events at or after this time (zero: the oldest kept)
	Types  []Type
	Limit  int
}

// Page is one page of events and the cursor to read on from.
type Page struct {
	Events []Event
	Cursor string
}

// position is where a cursor resumes: after the record Record ("": the
// oldest kept), skipping the first Skip events of the next one (a record
// split across pages).
type position struct {
	V      int    `json:"v"`
	A      string `json:"a"`
	Types  []Type `json:"t,omitempty"`
	Record string `json:"r,omitempty"`
	Skip   int    `json:"k,omitempty"`
}

const cursorLabel = "events-cursor"

// List reads a page of the principal's account's events (files:read).
// Cost: one or more consistent Queries of the account's outbox, at most
// PageBudget records evaluated.
func (f *Feed) List(ctx context.Context, p auth.Principal, q Query) (Page, error) {
	if err := p.Require(auth.ScopeRead); err != nil {
		return Page{}, err
	}
	var errs apperr.Fields
	switch {
	case q.Limit == 0:
		q.Limit = DefaultLimit
	case q.Limit < 1 || q.Limit > MaxLimit:
		errs.Add("limit", "must be an integer from 1 to 500")
	}
	for _, t := range q.Types {
		if !slices.Contains(Types, t) {
			errs.Add("type[]", "unknown event type "+string(t))
		}
	}
	if err := errs.Err(); err != nil {
		return Page{}, err
	}
	slices.Sort(q.Types)
	q.Types = slices.Compact(q.Types)
	now := f.Clock.Now()
	pos := position{V: 1, A: p.AccountID, Types: q.Types}
	if q.Cursor != "" {
		var err error
		if pos, err = f.open(ctx, q.Cursor, p.AccountID, q.Types); err != nil {
			return Page{}, err
		}
	}
	settle := f.Settle
	if settle == 0 {
		settle = Settle
	}
	scan := Scan{AccountID: p.AccountID, After: pos.Record, Until: now.Add(-settle), Types: q.Types, Limit: q.Limit, Budget: PageBudget}
	if q.Cursor == "" {
		scan.Since = q.Since
	}
	recs, stopped, err := f.Store.Records(ctx, scan)
	if err != nil {
		return Page{}, err
	}
	out, next := page(recs, stopped, pos, q)
	if !p.Has(auth.ScopeWebhooks) {
		for i := range out {
			out[i] = withoutWebhookURL(out[i])
		}
	}
	cursor, err := f.seal(ctx, next)
	return Page{Events: out, Cursor: cursor}, err
}

// withoutWebhookURL is e with a webhook's URL nulled: an endpoint's
// address (it may carry a credential in its path) is for callers that
// may read the webhooks (webhooks:admin) only.
func withoutWebhookURL(e Event) Event {
	if e.Type != WebhookDisabled && e.Type != WebhookDeliveryFailed {
		return e
	}
	var d map[string]any
	if json.Unmarshal(e.Data, &d) != nil {
		return e
	}
	d["url"] = nil
	e.Data, _ = json.Marshal(d)
	return e
}

// page takes up to q.Limit events of the records read after pos (the
// first one resuming after pos.Skip events), and where the next page
// starts: mid-record when the page filled there, else after the last
// record read or evaluated (stopped).
func page(recs []Record, stopped string, pos position, q Query) ([]Event, position) {
	next := pos
	out := []Event{}
	for ri, rec := range recs {
		start := 0
		if ri == 0 {
			start = pos.Skip
		}
		evs := rec.Sequenced()
		for i := start; i < len(evs); i++ {
			e := evs[i]
			if len(q.Types) > 0 && !slices.Contains(q.Types, e.Type) {
				continue
			}
			if len(out) == q.Limit {
				next.Skip = i // next.Record is the record before this one
				return out, next
			}
			out = append(out, e)
		}
		next.Record, next.Skip = rec.Position, 0
	}
	if stopped != "" {
		next.Record, next.Skip = stopped, 0
	}
	return out, next
}

func (f *Feed) seal(ctx context.Context, pos position) (string, error) {
	b, _ := json.Marshal(pos)
	return f.Cursors.Seal(ctx, cursorLabel, b)
}

func badCursor(detail string) error {
	e := apperr.New(apperr.KindInvalid, "invalid_cursor", detail)
	e.Fields = []apperr.FieldError{{Field: "cursor", Detail: detail}}
	return e
}

func (f *Feed) open(ctx context.Context, cursor, account string, types []Type) (position, error) {
	raw, err := f.Cursors.Open(ctx, cursorLabel, cursor)
	if errors.Is(err, keyring.ErrBadSeal) {
		return position{}, badCursor("the cursor is malformed, was altered or is older than the events' retention; read from the start")
	}
	if err != nil {
		return position{}, err
	}
	var pos position
	switch {
	case json.Unmarshal(raw, &pos) != nil || pos.V != 1:
		return position{}, badCursor("the cursor is malformed")
	case pos.A != account:
		return position{}, badCursor("the cursor was issued to another account")
	case !slices.Equal(pos.Types, types):
		e := apperr.New(apperr.KindInvalid, "cursor_query_mismatch", "the cursor belongs to a different type[] filter: keep the filter of the first page")
		e.Fields = []apperr.FieldError{{Field: "cursor", Detail: e.Detail}}
		return position{}, e
	}
	return pos, nil
}
