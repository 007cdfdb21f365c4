package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/keyring"
)

func TestTickets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	ring := func() *keyring.Ring {
		return &keyring.Ring{Store: &keyring.Memory{}, Purpose: "ticket", Lifetime: MaxTicketTTL, Clock: func() time.Time { return now }}
	}
	keys := ring()
	p := Principal{AccountID: "acct", TokenID: "tok", Name: "CRM", Scopes: AllScopes, AllowedDomain: "https://crm.example.com"}
	tk, exp, err := MintTicket(ctx, keys, p, now, time.Hour)
	if err != nil || !exp.Equal(now.Add(time.Hour)) {
		t.Fatal(tk, exp, err)
	}
	got, err := ParseTicket(ctx, keys, tk, now.Add(59*time.Minute))
	if err != nil || got.AccountID != "acct" || got.Name != "CRM" || got.AllowedDomain != "https://crm.example.com" {
		t.Fatal(got, err)
	}
	if got.Require(ScopeWrite) != nil || got.Require(ScopeRead) == nil || got.Require(ScopeDelete) == nil {
		t.Fatalf("a ticket is for uploads only: %v", got.Scopes)
	}
	id, rest, _ := strings.Cut(tk, ".")
	body, mac, _ := strings.Cut(rest, ".")
	for name, bad := range map[string]string{
		"other key":     func() string { s, _, _ := MintTicket(ctx, ring(), p, now, time.Hour); return s }(),
		"tampered body": id + "." + strings.Replace(body, body[2:4], "xx", 1) + "." + mac,
		"no mac":        id + "." + body,
		"garbage":       "a.b",
		"empty":         "",
	} {
		if _, err := ParseTicket(ctx, keys, bad, now); apperr.KindOf(err) != apperr.KindUnauthorized {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParseTicket(ctx, keys, tk, now.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired: %v", err)
	}
	ro := Principal{AccountID: "acct", Scopes: []Scope{ScopeRead}}
	if _, _, err := MintTicket(ctx, keys, ro, now, time.Hour); apperr.KindOf(err) != apperr.KindForbidden {
		t.Errorf("minting without files:write: %v", err)
	}
	short := p
	short.ExpiresAt = now.Add(10 * time.Minute)
	if _, exp, _ := MintTicket(ctx, keys, short, now, time.Hour); !exp.Equal(short.ExpiresAt) {
		t.Errorf("a ticket outlives its token: %v", exp)
	}
	// an operator's rotation with retirement ends every ticket at once
	if _, err := keys.Rotate(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseTicket(ctx, keys, tk, now); apperr.KindOf(err) != apperr.KindUnauthorized {
		t.Errorf("a ticket of a retired key: %v", err)
	}
}
