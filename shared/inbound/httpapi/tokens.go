package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// Tokens serves the token lifecycle (the tokens function, scope
// tokens:admin): list, mint, read, rotate and revoke the account's tokens.
// Secrets appear once, in the answer that mints them.
type Tokens struct {
	Auth *auth.Service
}

// Routes implements Feature.
func (a *Tokens) Routes() []Route {
	route := func(method, path string, h Endpoint) Route {
		return Route{Method: method, Path: path, Function: lambdas.Tokens, Scope: auth.ScopeTokens, Handle: h}
	}
	return []Route{
		route("GET", "/v1/tokens", a.list),
		route("POST", "/v1/tokens", a.create),
		route("GET", "/v1/tokens/{id}", a.get),
		route("DELETE", "/v1/tokens/{id}", a.revoke),
		route("POST", "/v1/tokens/{id}/rotate", a.rotate),
	}
}

// SecretView is a replaced secret still valid.
type SecretView struct {
	ValidUntil time.Time  `json:"valid_until"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// TokenView is a token as the API shows it: never a secret or its hash.
type TokenView struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Scopes          []auth.Scope    `json:"scopes"`
	AllowedDomain   *string         `json:"allowed_domain"`
	Status          string          `json:"status"` // active | expired | revoked
	CreatedAt       time.Time       `json:"created_at"`
	CreatedBy       *string         `json:"created_by"`
	ExpiresAt       *time.Time      `json:"expires_at"`
	LastUsedAt      *time.Time      `json:"last_used_at"`
	RotatedAt       *time.Time      `json:"rotated_at"`
	RevokedAt       *time.Time      `json:"revoked_at"`
	PreviousSecrets []SecretView    `json:"previous_secrets"`
	Links           map[string]Link `json:"_links"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ViewToken renders a token at now.
func ViewToken(t auth.Token, now time.Time) TokenView {
	v := TokenView{ID: t.ID, Name: t.Name, Scopes: t.Scopes, AllowedDomain: optString(t.AllowedDomain), Status: t.Status(now),
		CreatedAt: t.CreatedAt.UTC(), CreatedBy: optString(t.CreatedBy), ExpiresAt: optTime(t.ExpiresAt),
		LastUsedAt: optTime(t.LastUsedAt), RotatedAt: optTime(t.RotatedAt), RevokedAt: optTime(t.RevokedAt),
		PreviousSecrets: []SecretView{}, Links: map[string]Link{"self": {Href: "/v1/tokens/" + t.ID}}}
	if v.Status == "active" {
		for _, p := range t.Previous {
			if p.Until.After(now) {
				v.PreviousSecrets = append(v.PreviousSecrets, SecretView{ValidUntil: p.Until.UTC(), LastUsedAt: optTime(p.LastUsedAt)})
			}
		}
	}
	return v
}

func (a *Tokens) list(ctx context.Context, _ Request, p auth.Principal) (Response, error) {
	ts, err := a.Auth.ListTokens(ctx, p)
	if err != nil {
		return Response{}, err
	}
	views := make([]TokenView, len(ts))
	for i, t := range ts {
		views[i] = ViewToken(t, a.Auth.Clock.Now())
	}
	return JSON(http.StatusOK, map[string]any{"tokens": views})
}

func (a *Tokens) get(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	t, err := a.Auth.GetToken(ctx, p, PathParam(req, "id"))
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, ViewToken(t, a.Auth.Clock.Now()))
}

type createBody struct {
	Name          string   `json:"name"`
	Scopes        []string `json:"scopes"`
	AllowedDomain string   `json:"allowed_domain"`
	TTLSeconds    *int64   `json:"ttl_seconds"`
}

// MaxTokenTTL bounds ttl_seconds (ten years; absent: no expiry).
const MaxTokenTTL = 10 * 365 * 24 * time.Hour

func (a *Tokens) create(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	var b createBody
	if err := DecodeJSON(req, &b); err != nil {
		return Response{}, err
	}
	in := auth.NewToken{Name: b.Name, AllowedDomain: b.AllowedDomain}
	var errs apperr.Fields
	for i, s := range b.Scopes {
		sc, err := auth.ParseScopes(s)
		if err != nil || len(sc) != 1 {
			errs.Add("scopes["+strconv.Itoa(i)+"]", "unknown scope; use "+auth.ScopeNames(", "))
			continue
		}
		in.Scopes = append(in.Scopes, sc[0])
	}
	if b.TTLSeconds != nil {
		if *b.TTLSeconds < 60 || *b.TTLSeconds > int64(MaxTokenTTL/time.Second) {
			errs.Add("ttl_seconds", "must be from 60 to 315360000 (ten years), or absent for no expiry")
		} else {
			in.TTL = time.Duration(*b.TTLSeconds) * time.Second
		}
	}
	if err := errs.Err(); err != nil {
		return Response{}, err
	}
	secret, t, err := a.Auth.MintToken(ctx, p, in)
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusCreated, map[string]any{"token": ViewToken(t, a.Auth.Clock.Now()), "secret": secret})
}

func (a *Tokens) revoke(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	t, err := a.Auth.RevokeToken(ctx, p, PathParam(req, "id"))
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, ViewToken(t, a.Auth.Clock.Now()))
}

func (a *Tokens) rotate(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	grace, err := rotationGrace(req, auth.DefaultRotationGrace, auth.MaxRotationGrace)
	if err != nil {
		return Response{}, err
	}
	secret, t, err := a.Auth.RotateToken(ctx, p, PathParam(req, "id"), grace)
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, map[string]any{"token": ViewToken(t, a.Auth.Clock.Now()), "secret": secret})
}

// rotationGrace reads a rotation's optional body, {"grace_seconds": n}:
// how long the replaced secret stays valid (def when absent, 0 to max).
func rotationGrace(req Request, def, max time.Duration) (time.Duration, error) {
	var b struct {
		GraceSeconds *int64 `json:"grace_seconds"`
	}
	if req.Body != "" {
		if err := DecodeJSON(req, &b); err != nil {
			return 0, err
		}
	}
	if b.GraceSeconds == nil {
		return def, nil
	}
	if *b.GraceSeconds < 0 || *b.GraceSeconds > int64(max/time.Second) {
		return 0, apperr.Invalid("grace_seconds", "must be from 0 (the replaced secret ends now) to "+strconv.FormatInt(int64(max/time.Second), 10))
	}
	return time.Duration(*b.GraceSeconds) * time.Second, nil
}
