// Package keytest is the conformance suite of keyring.Store: run it
// against every implementation (memory, the embedded emulators, moto).
package keytest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/keyring"
)

var now = time.Date(2026, 12, 2, 12, 0, 0, 123456000, time.UTC)

// Run runs the suite; newStore returns an empty store.
func Run(t *testing.T, newStore func(t *testing.T) keyring.Store) {
	ctx := context.Background()
	s := newStore(t)
	key := func(id string, until time.Duration) keyring.Key {
		return keyring.Key{ID: id, Secret: []byte("secret of " + id), CreatedAt: now, VerifyUntil: now.Add(until)}
	}
	if ks, err := s.Keys(ctx, "cursor"); err != nil || len(ks) != 0 {
		t.Fatalf("an empty store's keys: %v %v", ks, err)
	}
	old, cur, gone := key("2026-10-01", time.Hour), key("2026-11-01", 48*time.Hour), key("2026-09-01", -time.Hour)
	for _, k := range []keyring.Key{old, cur, gone} {
		if err := s.PutKey(ctx, "cursor", k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutKey(ctx, "cursor", key("2026-10-01", time.Minute)); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("a second key with an id: %v, want ErrConflict", err)
	}
	if err := s.PutKey(ctx, "ticket", key("2026-10-01", time.Minute)); err != nil {
		t.Fatalf("the same id for another purpose: %v", err)
	}
	ks := keys(t, s, "cursor")
	if len(ks) != 3 || !same(ks[0], gone) || !same(ks[1], old) || !same(ks[2], cur) {
		t.Fatalf("keys = %+v", ks)
	}
	// retire every key but cur: old ends now, gone keeps its earlier end,
	// the other purpose is untouched
	if err := s.RetireKeys(ctx, "cursor", cur.ID, now); err != nil {
		t.Fatal(err)
	}
	ks = keys(t, s, "cursor")
	if !ks[1].VerifyUntil.Equal(now) || !ks[0].VerifyUntil.Equal(gone.VerifyUntil) || !same(ks[2], cur) {
		t.Fatalf("after retiring: %+v", ks)
	}
	if tk := keys(t, s, "ticket"); len(tk) != 1 || !tk[0].VerifyUntil.Equal(now.Add(time.Minute)) {
		t.Fatalf("retiring reached another purpose: %+v", tk)
	}
}

// keys lists a purpose's keys by id.
func keys(t *testing.T, s keyring.Store, purpose string) []keyring.Key {
	t.Helper()
	ks, err := s.Keys(context.Background(), purpose)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ks, func(a, b keyring.Key) int { return strings.Compare(a.ID, b.ID) })
	return ks
}

func same(a, b keyring.Key) bool {
	return a.ID == b.ID && bytes.Equal(a.Secret, b.Secret) && a.CreatedAt.Equal(b.CreatedAt) && a.VerifyUntil.Equal(b.VerifyUntil)
}
