package auth

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/keyring"
)

// Upload tickets let a browser upload without holding the integration's
// long-lived token: a ticket is minted with a token, names its account,
// is good for uploads only, and expires soon — never after its token. It
// is sealed with the deployment's ticket keyring (HMAC-SHA256, rotated);
// each use also checks that the minting token is still active
// (Service.CheckLive): revoking the token ends its tickets at once, and so
// does ending the secret that minted them (a rotation without grace). A
// ticket carries its minter's allowed_domain and never outlives it.

// MaxTicketTTL bounds a ticket's lifetime.
const MaxTicketTTL = 12 * time.Hour

const ticketLabel = "anexo-ticket"

type ticketClaims struct {
	Account string `json:"a"`
	Token   string `json:"t"`
	Name    string `json:"n"`
	Expires int64  `json:"e"`
	Domain  string `json:"d,omitempty"`
	Secret  string `json:"s,omitempty"` // SecretID of the minting secret
}

// MintTicket issues a ticket for p (which must hold files:write).
func MintTicket(ctx context.Context, keys *keyring.Ring, p Principal, now time.Time, ttl time.Duration) (string, time.Time, error) {
	if err := p.Require(ScopeWrite); err != nil {
		return "", time.Time{}, err
	}
	exp := now.Add(ttl).Truncate(time.Second)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(exp) {
		exp = p.ExpiresAt.Truncate(time.Second) // never outlives its token
	}
	b, _ := json.Marshal(ticketClaims{Account: p.AccountID, Token: p.TokenID, Name: p.Name, Expires: exp.Unix(), Domain: p.AllowedDomain, Secret: p.Secret})
	t, err := keys.Seal(ctx, ticketLabel, b)
	return t, exp, err
}

// ParseTicket verifies a ticket and returns the principal it stands for:
// the minting token's account and name, with files:write only.
func ParseTicket(ctx context.Context, keys *keyring.Ring, ticket string, now time.Time) (Principal, error) {
	bad := apperr.New(apperr.KindUnauthorized, "invalid_ticket", "the upload ticket is not valid; mint a new one with POST /v1/upload-tickets").With("field", "ticket")
	raw, err := keys.Open(ctx, ticketLabel, ticket)
	if errors.Is(err, keyring.ErrBadSeal) {
		return Principal{}, bad
	}
	if err != nil {
		return Principal{}, err
	}
	var c ticketClaims
	if json.Unmarshal(raw, &c) != nil || c.Account == "" {
		return Principal{}, bad
	}
	if !now.Before(time.Unix(c.Expires, 0)) {
		return Principal{}, apperr.New(apperr.KindUnauthorized, "ticket_expired", "the upload ticket expired; mint a new one").With("field", "ticket")
	}
	return Principal{AccountID: c.Account, TokenID: c.Token, Name: c.Name, Scopes: []Scope{ScopeWrite}, AllowedDomain: c.Domain, Secret: c.Secret}, nil
}
