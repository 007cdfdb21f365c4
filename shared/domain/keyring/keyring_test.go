package keyring

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := &Memory{}
	a := &Ring{Store: st, Purpose: "cursor", Lifetime: 24 * time.Hour, Clock: clock}
	b := &Ring{Store: st, Purpose: "cursor", Lifetime: 24 * time.Hour, Clock: clock} // another process
	k1, err := a.Signing(ctx)
	if err != nil || len(k1.Secret) != 32 {
		t.Fatal(k1, err)
	}
	if k, _ := b.Signing(ctx); k.ID != k1.ID || !bytes.Equal(k.Secret, k1.Secret) || len(st.keys["cursor"]) != 1 {
		t.Fatalf("two processes made two keys: %v", st.keys)
	}
	// a period later both sign with one new key; the old one still verifies
	now = now.Add(RotateEvery + time.Minute)
	k2, _ := a.Signing(ctx)
	if k, _ := b.Signing(ctx); k2.ID == k1.ID || k.ID != k2.ID || len(st.keys["cursor"]) != 2 {
		t.Fatalf("rotation: %s %s %s", k1.ID, k2.ID, k.ID)
	}
	if sec, ok, _ := b.Lookup(ctx, k1.ID); !ok || !bytes.Equal(sec, k1.Secret) {
		t.Fatal("the previous key no longer verifies")
	}
	// until what it signed has expired
	now = k1.CreatedAt.Add(RotateEvery + 24*time.Hour)
	if _, ok, _ := b.Lookup(ctx, k1.ID); ok {
		t.Fatal("an expired key verifies")
	}
	// an operator's rotation with retirement: only the new key verifies
	k3, err := a.Rotate(ctx, true)
	if err != nil || k3.ID <= k2.ID {
		t.Fatal(k3, err)
	}
	// the retirement holds at once in every process: no cached copy
	if k, _ := b.Signing(ctx); k.ID != k3.ID {
		t.Fatalf("after rotation b signs with %s", k.ID)
	}
	if _, ok, _ := b.Lookup(ctx, k2.ID); ok {
		t.Fatal("a retired key verifies")
	}
	// the next scheduled key sorts after the operator's
	now = k3.CreatedAt.Add(RotateEvery)
	if k4, _ := a.Signing(ctx); k4.ID <= k3.ID {
		t.Fatalf("scheduled key %s sorts before %s", k4.ID, k3.ID)
	}
	// within one request the ring is read once, whatever it is asked
	req := PerRequest(ctx)
	loads := st.loads
	for range 5 {
		if _, ok, _ := a.Lookup(req, "nope"); ok {
			t.Fatal("an unknown id verifies")
		}
	}
	if st.loads-loads > 1 {
		t.Fatalf("%d loads in one request", st.loads-loads)
	}
}

func TestSeal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := &Ring{Store: &Memory{}, Purpose: "ticket", Lifetime: time.Hour}
	tok, err := r.Seal(ctx, "ticket", []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := r.Open(ctx, "ticket", tok); err != nil || string(p) != `{"a":1}` {
		t.Fatal(p, err)
	}
	other := &Ring{Store: &Memory{}, Purpose: "ticket", Lifetime: time.Hour}
	forged, _ := other.Seal(ctx, "ticket", []byte(`{"a":2}`))
	id, rest, _ := strings.Cut(tok, ".")
	body, sig, _ := strings.Cut(rest, ".")
	for name, bad := range map[string]string{
		"other ring": forged, "other label": func() string { s, _ := r.Seal(ctx, "cursor", []byte("x")); return s }(),
		"altered body": id + "." + body[:len(body)-2] + "AA." + sig, "no mac": id + "." + body, "empty": "", "dots": "..",
		"unknown key": "20990101T000000000000000Z." + body + "." + sig,
	} {
		if _, err := r.Open(ctx, "ticket", bad); err != ErrBadSeal {
			t.Errorf("%s: %v", name, err)
		}
	}
}
