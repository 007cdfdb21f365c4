package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Token is a token as the API shows it (never its secret).
type Token struct {
	ID              string     `json:"id"`
	Name            string     `json:"name"`
	Scopes          []string   `json:"scopes"`
	AllowedDomain   *string    `json:"allowed_domain"`
	Status          string     `json:"status"`
	CreatedAt       time.Time  `json:"created_at"`
	CreatedBy       *string    `json:"created_by"`
	ExpiresAt       *time.Time `json:"expires_at"`
	LastUsedAt      *time.Time `json:"last_used_at"`
	RotatedAt       *time.Time `json:"rotated_at"`
	RevokedAt       *time.Time `json:"revoked_at"`
	PreviousSecrets []struct {
		ValidUntil time.Time  `json:"valid_until"`
		LastUsedAt *time.Time `json:"last_used_at"`
	} `json:"previous_secrets"`
}

// NewToken asks for a token; TTLSeconds 0 means no expiry.
type NewToken struct {
	Name          string   `json:"name"`
	Scopes        []string `json:"scopes"`
	AllowedDomain string   `json:"allowed_domain,omitempty"`
	TTLSeconds    int64    `json:"ttl_seconds,omitempty"`
}

// minted is the answer that carries a secret, once.
type minted struct {
	Token  Token  `json:"token"`
	Secret string `json:"secret"`
}

// Tokens lists the account's tokens (tokens:admin).
func (c *Client) Tokens(ctx context.Context) ([]Token, error) {
	var out struct {
		Tokens []Token `json:"tokens"`
	}
	_, err := c.Do(ctx, http.MethodGet, "/v1/tokens", nil, &out)
	return out.Tokens, err
}

// CreateToken mints a token and returns it with its secret.
func (c *Client) CreateToken(ctx context.Context, in NewToken) (Token, string, error) {
	var out minted
	_, err := c.Do(ctx, http.MethodPost, "/v1/tokens", in, &out)
	return out.Token, out.Secret, err
}

// RevokeToken ends every secret of a token.
func (c *Client) RevokeToken(ctx context.Context, id string) (Token, error) {
	var out Token
	_, err := c.Do(ctx, http.MethodDelete, "/v1/tokens/"+url.PathEscape(id), nil, &out)
	return out, err
}

// RotateToken gives a token a new secret; the current one stays valid for
// grace.
func (c *Client) RotateToken(ctx context.Context, id string, grace time.Duration) (Token, string, error) {
	var out minted
	_, err := c.Do(ctx, http.MethodPost, "/v1/tokens/"+url.PathEscape(id)+"/rotate",
		map[string]int64{"grace_seconds": int64(grace / time.Second)}, &out)
	return out.Token, out.Secret, err
}
