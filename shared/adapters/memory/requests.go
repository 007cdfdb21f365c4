package memory

import (
	"context"
	"slices"
	"strings"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/requests"
)

// requestKey names a file request a link opens.
type requestKey struct{ account, id string }

// CreateRequest implements requests.Store.
func (s *Store) CreateRequest(_ context.Context, r requests.Request, rec *outbox.Record) error {
	return s.do(func() error {
		a, err := s.account(r.AccountID)
		if err != nil {
			return err
		}
		if _, dup := a.requests[r.ID]; dup {
			return apperr.ErrConflict
		}
		if _, dup := s.links[r.LinkHash]; dup {
			return apperr.ErrConflict
		}
		a.requests[r.ID] = clone(r)
		s.links[r.LinkHash] = requestKey{r.AccountID, r.ID}
		a.write(rec)
		return nil
	})
}

// clone copies a request's slices, so callers never share the stored ones.
func clone(r requests.Request) requests.Request {
	r.Slots = slices.Clone(r.Slots)
	r.Received = slices.Clone(r.Received)
	return r
}

// GetRequest implements requests.Store and upload.Store.
func (s *Store) GetRequest(_ context.Context, accountID, id string) (requests.Request, error) {
	return read(s, accountID, func(a *account) (requests.Request, bool) {
		r, ok := a.requests[id]
		return clone(r), ok
	})
}

// RequestByLink implements requests.Store.
func (s *Store) RequestByLink(ctx context.Context, hash string) (requests.Request, error) {
	var k requestKey
	err := s.do(func() error {
		var ok bool
		if k, ok = s.links[hash]; !ok {
			return apperr.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return requests.Request{}, err
	}
	return s.GetRequest(ctx, k.account, k.id)
}

// ListRequests implements requests.Store: newest first (ids are UUIDv7).
func (s *Store) ListRequests(_ context.Context, accountID, after string, limit int) ([]requests.Request, string, error) {
	var out []requests.Request
	next := ""
	err := s.do(func() error {
		a, ok := s.accounts[accountID]
		if !ok {
			return nil
		}
		var all []requests.Request
		for _, r := range a.requests {
			if after == "" || r.ID < after {
				all = append(all, clone(r))
			}
		}
		slices.SortFunc(all, func(x, y requests.Request) int { return strings.Compare(y.ID, x.ID) })
		if len(all) > limit {
			all, next = all[:limit], all[limit-1].ID
		}
		out = all
		return nil
	})
	return out, next, err
}

// checkRequest checks a write's condition: the stored request is at w.Prev.
func (a *account) checkRequest(w requests.Write) error {
	cur, ok := a.requests[w.Request.ID]
	if !ok || cur.Rev != w.Prev {
		return requests.ErrChanged
	}
	return nil
}

// UpdateRequest implements requests.Store, all or nothing.
func (s *Store) UpdateRequest(_ context.Context, w requests.Write) error {
	return s.do(func() error {
		a, err := s.account(w.Request.AccountID)
		if err != nil {
			return requests.ErrChanged
		}
		if err := a.checkRequest(w); err != nil {
			return err
		}
		r := clone(w.Request)
		if w.OldLink != "" && w.OldLink != r.LinkHash {
			delete(s.links, w.OldLink)
			s.links[r.LinkHash] = requestKey{r.AccountID, r.ID}
		}
		a.requests[r.ID] = r
		for _, at := range w.Attach {
			a.attached[attachKey(at)] = at
		}
		a.write(w.Events)
		return nil
	})
}
