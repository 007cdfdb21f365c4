package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/anexo/anexo/shared/apperr"
)

// Upload tickets let a browser upload without holding the integration's
// long-lived token: a ticket is minted with a token, names its account,
// is good for uploads only, and expires soon — never after its token. It
// is an HMAC-SHA256 over its claims with a per-deployment key; each use
// also checks that the minting token is still active (Service.CheckLive),
// so revoking the token ends its tickets at once.

// MaxTicketTTL bounds a ticket's lifetime.
const MaxTicketTTL = 12 * time.Hour

type ticketClaims struct {
	Account string `json:"a"`
	Token   string `json:"t"`
	Name    string `json:"n"`
	Expires int64  `json:"e"`
	Domain  string `json:"d,omitempty"`
}

// MintTicket issues a ticket for p (which must hold files:write).
func MintTicket(key []byte, p Principal, now time.Time, ttl time.Duration) (string, time.Time, error) {
	if err := p.Require(ScopeWrite); err != nil {
		return "", time.Time{}, err
	}
	exp := now.Add(ttl).Truncate(time.Second)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(exp) {
		exp = p.ExpiresAt.Truncate(time.Second) // never outlives its token
	}
	b, _ := json.Marshal(ticketClaims{Account: p.AccountID, Token: p.TokenID, Name: p.Name, Expires: exp.Unix(), Domain: p.AllowedDomain})
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + sign(key, body), exp, nil
}

func sign(key []byte, body string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("anexo-ticket\x00" + body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ParseTicket verifies a ticket and returns the principal it stands for:
// the minting token's account and name, with files:write only.
func ParseTicket(key []byte, ticket string, now time.Time) (Principal, error) {
	bad := apperr.New(apperr.KindUnauthorized, "invalid_ticket", "the upload ticket is not valid; mint a new one with POST /v1/upload-tickets").With("field", "ticket")
	body, mac, ok := strings.Cut(ticket, ".")
	if !ok || len(ticket) > 2048 || !hmac.Equal([]byte(mac), []byte(sign(key, body))) {
		return Principal{}, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return Principal{}, bad
	}
	var c ticketClaims
	if json.Unmarshal(raw, &c) != nil || c.Account == "" {
		return Principal{}, bad
	}
	if !now.Before(time.Unix(c.Expires, 0)) {
		return Principal{}, apperr.New(apperr.KindUnauthorized, "ticket_expired", "the upload ticket expired; mint a new one").With("field", "ticket")
	}
	return Principal{AccountID: c.Account, TokenID: c.Token, Name: c.Name, Scopes: []Scope{ScopeWrite}, AllowedDomain: c.Domain}, nil
}
