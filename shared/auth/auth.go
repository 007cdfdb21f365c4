// Package auth holds accounts, integration tokens and the rules that turn a
// presented token into a Principal: hashing, scopes, expiry and allowed_domain.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/anexo/anexo/shared/apperr"
	"github.com/google/uuid"
)

// Scope is a permission carried by a token.
type Scope string

const (
	ScopeRead   Scope = "files:read"
	ScopeWrite  Scope = "files:write"
	ScopeDelete Scope = "files:delete"
)

// AllScopes lists every scope a token may carry.
var AllScopes = []Scope{ScopeRead, ScopeWrite, ScopeDelete}

// TokenPrefix starts every token secret so leaked tokens are recognisable.
const TokenPrefix = "anx_"

// Account is a tenant; every record belongs to exactly one.
type Account struct {
	ID         string
	Name       string
	QuotaBytes int64 // 0 means unlimited
	CreatedAt  time.Time
}

// Token is an integration token as stored: only the hash of its secret.
type Token struct {
	ID            string
	AccountID     string
	Name          string
	Hash          string
	Scopes        []Scope
	AllowedDomain string
	CreatedAt     time.Time
	ExpiresAt     time.Time // zero: never
}

// Principal is who is calling: resolved by the authorizer, trusted by handlers.
type Principal struct {
	AccountID     string
	TokenID       string
	Name          string
	Scopes        []Scope
	AllowedDomain string
}

// Store persists accounts and tokens.
type Store interface {
	PutAccount(ctx context.Context, a Account) error
	GetAccount(ctx context.Context, id string) (Account, error)
	PutToken(ctx context.Context, t Token) error
	GetTokenByHash(ctx context.Context, hash string) (Token, error)
}

// Service creates accounts and tokens and authenticates callers.
type Service struct {
	Store Store
	Now   func() time.Time
}

// HashToken is the only form in which a secret is stored. Secrets carry 256
// random bits, so a fast hash is sufficient (no brute force is feasible).
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ParseScopes parses a space- or comma-separated scope list.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		sc := Scope(f)
		if !slices.Contains(AllScopes, sc) {
			return nil, apperr.Invalid("scopes", "unknown scope "+strconv.Quote(f)+"; use files:read, files:write, files:delete")
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, apperr.Invalid("scopes", "at least one scope is required")
	}
	return out, nil
}

func validName(field, name string) error {
	if name == "" || len(name) > 200 || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) {
		return apperr.Invalid(field, "must be 1-200 bytes of UTF-8 without control characters")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }

// NormalizeDomain validates an allowed_domain: a host name, optionally
// starting with "*." to admit subdomains.
func NormalizeDomain(d string) (string, error) {
	d = strings.ToLower(strings.TrimSpace(d))
	if d == "" {
		return "", nil
	}
	host := strings.TrimPrefix(d, "*.")
	if len(host) > 253 || strings.ContainsAny(host, "/:@ *") || !strings.Contains(host, ".") && host != "localhost" {
		return "", apperr.Invalid("allowed_domain", "must be a host name such as app.example.com or *.example.com")
	}
	return d, nil
}

// CreateAccount registers a tenant.
func (s *Service) CreateAccount(ctx context.Context, name string, quota int64) (Account, error) {
	if err := validName("name", name); err != nil {
		return Account{}, err
	}
	if quota < 0 {
		return Account{}, apperr.Invalid("quota", "must be zero (unlimited) or a positive number of bytes")
	}
	a := Account{ID: uuid.NewString(), Name: name, QuotaBytes: quota, CreatedAt: s.Now().UTC()}
	return a, s.Store.PutAccount(ctx, a)
}

// CreateToken mints a token for an account and returns its secret, which is
// shown once and never stored.
func (s *Service) CreateToken(ctx context.Context, accountID, name string, scopes []Scope, allowedDomain string, ttl time.Duration) (string, Token, error) {
	if err := validName("name", name); err != nil {
		return "", Token{}, err
	}
	if len(scopes) == 0 {
		return "", Token{}, apperr.Invalid("scopes", "at least one scope is required")
	}
	dom, err := NormalizeDomain(allowedDomain)
	if err != nil {
		return "", Token{}, err
	}
	if _, err := s.Store.GetAccount(ctx, accountID); err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return "", Token{}, apperr.New(apperr.KindNotFound, "account_not_found", "no account "+accountID)
		}
		return "", Token{}, err
	}
	secret := newSecret()
	t := Token{ID: uuid.NewString(), AccountID: accountID, Name: name, Hash: HashToken(secret),
		Scopes: scopes, AllowedDomain: dom, CreatedAt: s.Now().UTC()}
	if ttl > 0 {
		t.ExpiresAt = t.CreatedAt.Add(ttl)
	}
	return secret, t, s.Store.PutToken(ctx, t)
}

// ExtractSecret reads "Bearer <token>" or a bare "<token>" (ONLYOFFICE style).
func ExtractSecret(authorization string) string {
	v := strings.TrimSpace(authorization)
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		v = strings.TrimSpace(v[7:])
	}
	return v
}

var errBadToken = apperr.New(apperr.KindUnauthorized, "invalid_token", "the token is unknown, revoked or expired")

// Authenticate resolves an Authorization header value to a Principal.
func (s *Service) Authenticate(ctx context.Context, authorization string) (Principal, error) {
	secret := ExtractSecret(authorization)
	if secret == "" {
		return Principal{}, apperr.New(apperr.KindUnauthorized, "missing_token", "send Authorization: Bearer <token>")
	}
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 100 {
		return Principal{}, errBadToken
	}
	t, err := s.Store.GetTokenByHash(ctx, HashToken(secret))
	if errors.Is(err, apperr.ErrNotFound) {
		return Principal{}, errBadToken
	}
	if err != nil {
		return Principal{}, err
	}
	if !t.ExpiresAt.IsZero() && !s.Now().Before(t.ExpiresAt) {
		return Principal{}, errBadToken
	}
	return Principal{AccountID: t.AccountID, TokenID: t.ID, Name: t.Name, Scopes: t.Scopes, AllowedDomain: t.AllowedDomain}, nil
}

// Has reports whether the principal carries scope.
func (p Principal) Has(scope Scope) bool { return slices.Contains(p.Scopes, scope) }

// Require fails unless the principal carries scope.
func (p Principal) Require(scope Scope) error {
	if slices.Contains(p.Scopes, scope) {
		return nil
	}
	return apperr.New(apperr.KindForbidden, "insufficient_scope", "this operation needs the "+string(scope)+" scope").
		With("required_scope", string(scope))
}

// CheckOrigin enforces the token's allowed_domain against the Origin header,
// or the Referer when Origin is absent. Tokens without a domain accept any.
func (p Principal) CheckOrigin(origin, referer string) error {
	if p.AllowedDomain == "" {
		return nil
	}
	src := origin
	if src == "" || src == "null" {
		src = referer
	}
	u, err := url.Parse(src)
	if src == "" || err != nil || u.Hostname() == "" {
		return apperr.New(apperr.KindForbidden, "origin_required", "this token is restricted to "+p.AllowedDomain+"; send an Origin or Referer header from it")
	}
	if !DomainMatches(p.AllowedDomain, u.Hostname()) {
		return apperr.New(apperr.KindForbidden, "origin_not_allowed", "origin "+u.Hostname()+" is not allowed for this token (allowed: "+p.AllowedDomain+")")
	}
	return nil
}

// DomainMatches reports whether host satisfies an allowed_domain pattern.
func DomainMatches(pattern, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if base, ok := strings.CutPrefix(pattern, "*."); ok {
		return host == base || strings.HasSuffix(host, "."+base)
	}
	return host == pattern
}

// Context keys carried from the authorizer to the handlers.
const (
	CtxAccount = "account_id"
	CtxToken   = "token_id"
	CtxName    = "name"
	CtxScopes  = "scopes"
	CtxDomain  = "allowed_domain"
	CtxError   = "auth_error"
)

// ToContext flattens a principal into the authorizer context (string values,
// as API Gateway passes them on).
func (p Principal) ToContext() map[string]any {
	sc := make([]string, len(p.Scopes))
	for i, s := range p.Scopes {
		sc[i] = string(s)
	}
	return map[string]any{CtxAccount: p.AccountID, CtxToken: p.TokenID, CtxName: p.Name,
		CtxScopes: strings.Join(sc, " "), CtxDomain: p.AllowedDomain}
}

// FromContext rebuilds the principal a handler received from the authorizer.
func FromContext(m map[string]any) (Principal, error) {
	str := func(k string) string { s, _ := m[k].(string); return s }
	if code := str(CtxError); code != "" {
		if code == "missing_token" {
			return Principal{}, apperr.New(apperr.KindUnauthorized, code, "send Authorization: Bearer <token>")
		}
		return Principal{}, errBadToken
	}
	p := Principal{AccountID: str(CtxAccount), TokenID: str(CtxToken), Name: str(CtxName), AllowedDomain: str(CtxDomain)}
	if p.AccountID == "" {
		return Principal{}, apperr.New(apperr.KindUnauthorized, "unauthenticated", "no authorizer context on this request")
	}
	for _, s := range strings.Fields(str(CtxScopes)) {
		p.Scopes = append(p.Scopes, Scope(s))
	}
	return p, nil
}
