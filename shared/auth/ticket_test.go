package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/apperr"
)

func TestTickets(t *testing.T) {
	key := []byte("k1")
	now := time.Unix(1_800_000_000, 0)
	p := Principal{AccountID: "acct", TokenID: "tok", Name: "CRM", Scopes: AllScopes, AllowedDomain: "crm.example.com"}
	tk, exp, err := MintTicket(key, p, now, time.Hour)
	if err != nil || !exp.Equal(now.Add(time.Hour)) {
		t.Fatal(tk, exp, err)
	}
	got, err := ParseTicket(key, tk, now.Add(59*time.Minute))
	if err != nil || got.AccountID != "acct" || got.Name != "CRM" || got.AllowedDomain != "crm.example.com" {
		t.Fatal(got, err)
	}
	if got.Require(ScopeWrite) != nil || got.Require(ScopeRead) == nil || got.Require(ScopeDelete) == nil {
		t.Fatalf("a ticket is for uploads only: %v", got.Scopes)
	}
	body, mac, _ := strings.Cut(tk, ".")
	for name, bad := range map[string]string{
		"other key":     func() string { s, _, _ := MintTicket([]byte("k2"), p, now, time.Hour); return s }(),
		"tampered body": strings.Replace(body, body[2:4], "xx", 1) + "." + mac,
		"no mac":        body,
		"garbage":       "a.b",
		"empty":         "",
	} {
		if _, err := ParseTicket(key, bad, now); apperr.KindOf(err) != apperr.KindUnauthorized {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParseTicket(key, tk, now.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired: %v", err)
	}
	ro := Principal{AccountID: "acct", Scopes: []Scope{ScopeRead}}
	if _, _, err := MintTicket(key, ro, now, time.Hour); apperr.KindOf(err) != apperr.KindForbidden {
		t.Errorf("minting without files:write: %v", err)
	}
}
