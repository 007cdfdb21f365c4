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

	"github.com/anexo/anexo/shared/apperr"
	"github.com/anexo/anexo/shared/clock"
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

// Defaults.
const (
	// RotateEvery is how long a key signs.
	RotateEvery = 30 * 24 * time.Hour
	// Refresh is how stale a process's copy of the ring may get: a
	// rotation or retirement reaches every warm function within it.
	Refresh = 5 * time.Minute
	// missReload bounds how often an unknown key id reloads the ring.
	missReload = 10 * time.Second
)

// Ring is one purpose's keys, cached per process.
type Ring struct {
	Store   Store
	Purpose string // "cursor", "ticket"
	// Lifetime is the longest life of what the ring signs: a key verifies
	// for RotateEvery + Lifetime after it was created.
	Lifetime time.Duration
	Clock    clock.Func

	mu       sync.Mutex
	keys     []Key
	loadedAt time.Time
}

func (r *Ring) load(ctx context.Context, now time.Time) error {
	ks, err := r.Store.Keys(ctx, r.Purpose)
	if err != nil {
		return fmt.Errorf("%s keys: %w", r.Purpose, err)
	}
	r.keys, r.loadedAt = ks, now
	return nil
}

// Signing returns the key to sign with: the newest, or a new one when the
// newest has signed for RotateEvery (every process that finds it due
// writes the same id, so exactly one new key appears).
func (r *Ring) Signing(ctx context.Context) (Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.Clock.Now()
	for attempt := 0; ; attempt++ {
		if r.keys == nil || now.Sub(r.loadedAt) >= Refresh || attempt > 0 {
			if err := r.load(ctx, now); err != nil {
				return Key{}, err
			}
		}
		var newest Key
		for _, k := range r.keys {
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
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.Clock.Now()
	if r.keys == nil || now.Sub(r.loadedAt) >= Refresh {
		if err := r.load(ctx, now); err != nil {
			return nil, false, err
		}
	}
	for pass := 0; pass < 2; pass++ {
		for _, k := range r.keys {
			if k.ID == id {
				return k.Secret, now.Before(k.VerifyUntil), nil
			}
		}
		// a key created since the last load (another process rotated)
		if pass > 0 || now.Sub(r.loadedAt) < missReload {
			break
		}
		if err := r.load(ctx, now); err != nil {
			return nil, false, err
		}
	}
	return nil, false, nil
}

// Rotate creates a key that signs from now on (an operator's rotation);
// with retire, every earlier key stops verifying at once, so whatever they
// signed (cursors, tickets) is refused.
func (r *Ring) Rotate(ctx context.Context, retire bool) (Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
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
	r.keys = nil
	return k, nil
}

// IDAt names a key by a moment: the start of its period for a scheduled
// key, the moment itself for an operator's. Ids sort by time, and the next
// period's start always sorts after any key of the one before.
func IDAt(t time.Time) string {
	t = t.UTC()
	return t.Format("20060102T150405") + fmt.Sprintf("%09dZ", t.Nanosecond())
}
