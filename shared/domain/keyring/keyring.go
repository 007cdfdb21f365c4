// Package keyring holds the HMAC keys Anexo signs its own tokens with
// (listing cursors, upload tickets): one ring per purpose, rotated on a
// schedule. The newest key signs; every key verifies until what it signed
// has expired, so a rotation never breaks a cursor or a ticket in flight.
// Keys live in their own store, which only the functions that sign or
// verify can read.
package keyring

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
)

// Key is one signing key.
type Key struct {
	ID          string // sorts by creation: the period it starts, or the moment an operator rotated
	Secret      []byte
	CreatedAt   time.Time
	VerifyUntil time.Time
}

// Store persists the keys of each purpose.
type Store interface {
	// Keys lists a purpose's keys (expired ones may be included).
	Keys(ctx context.Context, purpose string) ([]Key, error)
	// PutKey adds a key; apperr.ErrConflict when its id exists.
	PutKey(ctx context.Context, purpose string, k Key) error
	// RetireKeys ends the verification of every key of a purpose but keep
	// at now (an operator's answer to a leaked key).
	RetireKeys(ctx context.Context, purpose, keep string, now time.Time) error
}

// RotateEvery is how long a key signs.
const RotateEvery = 30 * 24 * time.Hour

// Ring is one purpose's keys. It reads them from the store once per
// request (PerRequest) and not across requests, so an operator's rotation
// or retirement holds from the next request on, in every process: a
// retired key neither verifies nor signs again. Outside a request
// (PerRequest not called) every use reads them.
type Ring struct {
	Store   Store
	Purpose string // "cursor", "ticket", "events"
	// Lifetime is the longest life of what the ring signs: a key verifies
	// for RotateEvery + Lifetime after it was created.
	Lifetime time.Duration
	Clock    clock.Func
}

type memoKey struct{}

// memo holds the keys each purpose's ring read during one request.
type memo struct {
	mu   sync.Mutex
	keys map[string][]Key
}

// PerRequest returns a context in which each ring reads its keys at most
// once: the inbound adapters wrap every request's context with it.
func PerRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &memo{keys: map[string][]Key{}})
}

// keys are the purpose's keys: this request's reading, or a new one
// (always when fresh: after this process wrote a key).
func (r *Ring) keys(ctx context.Context, fresh bool) ([]Key, error) {
	m, _ := ctx.Value(memoKey{}).(*memo)
	if m != nil && !fresh {
		m.mu.Lock()
		ks, ok := m.keys[r.Purpose]
		m.mu.Unlock()
		if ok {
			return ks, nil
		}
	}
	ks, err := r.Store.Keys(ctx, r.Purpose)
	if err != nil {
		return nil, fmt.Errorf("%s keys: %w", r.Purpose, err)
	}
	if m != nil {
		m.mu.Lock()
		m.keys[r.Purpose] = ks
		m.mu.Unlock()
	}
	return ks, nil
}

// Signing returns the key to sign with: the newest that verifies, or a new
// one when it is due (the first signer of a period creates that period's
// key; concurrent signers agree on it by its id).
func (r *Ring) Signing(ctx context.Context) (Key, error) {
	now := r.Clock.Now()
	for attempt := 0; ; attempt++ {
		ks, err := r.keys(ctx, attempt > 0)
		if err != nil {
			return Key{}, err
		}
		var newest Key
		for _, k := range ks {
			if k.ID > newest.ID && now.Before(k.VerifyUntil) {
				newest = k
			}
		}
		if newest.ID != "" && now.Before(newest.CreatedAt.Add(RotateEvery)) {
			return newest, nil
		}
		if attempt > 0 {
			return Key{}, errors.New("keyring: no signing key after creating one")
		}
		period := now.Truncate(RotateEvery)
		if err := r.Store.PutKey(ctx, r.Purpose, r.newKey(IDAt(period), now)); err != nil && !errors.Is(err, apperr.ErrConflict) {
			return Key{}, err
		}
	}
}

// newKey is a fresh random key created at now.
func (r *Ring) newKey(id string, now time.Time) Key {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return Key{ID: id, Secret: b, CreatedAt: now.UTC(), VerifyUntil: now.Add(RotateEvery + r.Lifetime).UTC()}
}

// Lookup returns the secret of a key that still verifies; false for an
// unknown, retired or expired id.
func (r *Ring) Lookup(ctx context.Context, id string) ([]byte, bool, error) {
	ks, err := r.keys(ctx, false)
	if err != nil {
		return nil, false, err
	}
	now := r.Clock.Now()
	for _, k := range ks {
		if k.ID == id {
			return k.Secret, now.Before(k.VerifyUntil), nil
		}
	}
	return nil, false, nil
}

// Rotate creates a key that signs from now on (an operator's rotation);
// with retire, every earlier key stops verifying at once, so whatever they
// signed (cursors, tickets) is refused from the next request on.
func (r *Ring) Rotate(ctx context.Context, retire bool) (Key, error) {
	now := r.Clock.Now()
	k := r.newKey(IDAt(now), now)
	if err := r.Store.PutKey(ctx, r.Purpose, k); err != nil {
		return Key{}, err
	}
	if retire {
		if err := r.Store.RetireKeys(ctx, r.Purpose, k.ID, now); err != nil {
			return Key{}, err
		}
	}
	return k, nil
}

// IDAt names a key by a moment: the start of its period for a scheduled
// key, the moment itself for an operator's. Ids sort by time, and the next
// period's start always sorts after any key of the one before.
func IDAt(t time.Time) string {
	t = t.UTC()
	return t.Format("20060102T150405") + fmt.Sprintf("%09dZ", t.Nanosecond())
}
