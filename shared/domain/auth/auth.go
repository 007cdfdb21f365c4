// Package auth holds accounts, integration tokens and the rules that turn a
// presented token into a Principal: hashing, scopes, expiry and allowed_domain.
package auth

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/base/secrets"
	"github.com/anexo/anexo/shared/base/text"
)

// Scope is a permission carried by a token.
type Scope string

const (
	ScopeRead   Scope = "files:read"
	ScopeWrite  Scope = "files:write"
	ScopeDelete Scope = "files:delete"
	// ScopeTokens manages the account's tokens (list, create, rotate, revoke).
	ScopeTokens Scope = "tokens:admin"
	// ScopeWebhooks manages the account's webhooks (register, change,
	// rotate their secrets, read and retry their deliveries).
	ScopeWebhooks Scope = "webhooks:admin"
	// ScopeRequests manages the account's file requests (create, list,
	// renew their links, revoke): each is a public link that lets anyone
	// holding it upload into an entity, a grant of its own.
	ScopeRequests Scope = "requests:admin"
)

// AllScopes lists every scope a token may carry.
var AllScopes = []Scope{ScopeRead, ScopeWrite, ScopeDelete, ScopeTokens, ScopeWebhooks, ScopeRequests}

// ScopeNames is every scope, separated by sep.
func ScopeNames(sep string) string {
	names := make([]string, len(AllScopes))
	for i, s := range AllScopes {
		names[i] = string(s)
	}
	return strings.Join(names, sep)
}

// TokenPrefix starts every token secret so leaked tokens are recognisable.
const TokenPrefix = "anx_"

// Account is a tenant; every record belongs to exactly one.
type Account struct {
	ID         string
	Name       string
	QuotaBytes int64 // 0 means unlimited
	CreatedAt  time.Time
}

// Token is an integration token as stored: only the hashes of its secrets.
// Rotation gives it a new secret and keeps the one before valid for a grace
// period (Previous); revocation ends every secret at once.
type Token struct {
	ID            string
	AccountID     string
	Name          string
	Hash          string // the current secret's
	Scopes        []Scope
	AllowedDomain string
	CreatedAt     time.Time
	CreatedBy     string
	ExpiresAt     time.Time // zero: never
	LastUsedAt    time.Time // zero: never; the latest over its secrets
	RotatedAt     time.Time
	RevokedAt     time.Time
	Previous      []Secret // replaced secrets still valid
}

// Secret is a replaced secret of a rotated token, valid until Until.
type Secret struct {
	Hash       string
	Until      time.Time
	LastUsedAt time.Time
}

// holds reports whether the secret named id (SecretID) is t's current
// one, and whether it is valid at now: the current one, or a replaced one
// in its grace period.
func (t Token) holds(id string, now time.Time) (current, valid bool) {
	if id != "" && id == SecretID(t.Hash) {
		return true, true
	}
	for _, p := range t.Previous {
		if id != "" && id == SecretID(p.Hash) {
			return false, now.Before(p.Until)
		}
	}
	return false, false
}

// Active reports whether the token authenticates at now.
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// Status is "active", "expired" or "revoked" at now.
func (t Token) Status(now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return "revoked"
	case !t.Active(now):
		return "expired"
	}
	return "active"
}

// Principal is who is calling: resolved by the authorizer, trusted by handlers.
type Principal struct {
	AccountID     string
	TokenID       string
	Name          string
	Scopes        []Scope
	AllowedDomain string
	ExpiresAt     time.Time // the token's expiry (zero: never)
	// Secret identifies the secret presented (SecretID of its hash): the
	// token's current one or one a rotation replaced. Only the current
	// secret manages the token (CurrentSecret); tickets are bound to it.
	Secret string
	// FileRequest, when set, is a file request's uploader (no token): it
	// opens sessions bound to that request and reaches only those.
	FileRequest string
}

// SecretID names a secret by its hash without being a credential or the
// stored key: the first 128 bits of the hash, hex.
func SecretID(hash string) string {
	if len(hash) < 32 {
		return hash
	}
	return hash[:32]
}

// Store persists accounts and tokens. A token is kept twice: under the hash
// of each of its valid secrets (what the authorizer reads) and in its
// account (what listing, rotation, revocation and tickets read).
type Store interface {
	PutAccount(ctx context.Context, a Account) error
	GetAccount(ctx context.Context, id string) (Account, error)
	ListAccounts(ctx context.Context) ([]Account, error)
	PutToken(ctx context.Context, t Token) error
	GetTokenByHash(ctx context.Context, hash string) (Token, error)
	GetToken(ctx context.Context, accountID, id string) (Token, error)
	ListTokens(ctx context.Context, accountID string) ([]Token, error)
	// LastUsed fills when each valid secret of the tokens was last used.
	LastUsed(ctx context.Context, ts []Token) error
	// RotateToken replaces old's secret by next's, conditional on old's
	// still being the current one; the hashes in drop stop working.
	RotateToken(ctx context.Context, old, next Token, drop []string) error
	// RevokeToken marks the token revoked and deletes every secret's hash.
	RevokeToken(ctx context.Context, t Token, at time.Time) error
	// TouchToken records a use of the secret with this hash, unless one
	// after notBefore is recorded already.
	TouchToken(ctx context.Context, hash string, at, notBefore time.Time) error
}

// Service creates accounts and tokens and authenticates callers.
type Service struct {
	Store Store
	Clock clock.Func
}

// HashToken is the only form in which a secret is stored (secrets.Hash).
func HashToken(secret string) string { return secrets.Hash(secret) }

func newSecret() string { return secrets.New(TokenPrefix) }

// ParseScopes parses a space- or comma-separated scope list.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		sc := Scope(f)
		if !slices.Contains(AllScopes, sc) {
			return nil, apperr.Invalid("scopes", "unknown scope "+strconv.Quote(f)+"; use "+ScopeNames(", "))
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

// validName checks an account's or a token's name: 1-200 bytes under the
// rules of every user-visible string (text.Check).
func validName(field, name string) error {
	if name == "" {
		return apperr.Invalid(field, "is required (1-200 bytes)")
	}
	return text.Check(field, name, text.Rules{MaxBytes: 200})
}

// CreateAccount registers a tenant.
func (s *Service) CreateAccount(ctx context.Context, name string, quota int64) (Account, error) {
	if err := validName("name", name); err != nil {
		return Account{}, err
	}
	if quota < 0 {
		return Account{}, apperr.Invalid("quota", "must be zero (unlimited) or a positive number of bytes")
	}
	a := Account{ID: uuid.NewString(), Name: name, QuotaBytes: quota, CreatedAt: s.Clock.Now().UTC()}
	return a, s.Store.PutAccount(ctx, a)
}

// NewToken describes a token to mint.
type NewToken struct {
	Name          string
	Scopes        []Scope
	AllowedDomain string
	TTL           time.Duration // 0: no expiry
	CreatedBy     string
}

// CreateToken mints a token for an account and returns its secret, which is
// shown once and never stored.
func (s *Service) CreateToken(ctx context.Context, accountID string, in NewToken) (string, Token, error) {
	var errs apperr.Fields
	errs.AddErr(validName("name", in.Name))
	if len(in.Scopes) == 0 {
		errs.Add("scopes", "at least one scope is required")
	}
	dom, err := NormalizeOrigin(in.AllowedDomain)
	if err != nil {
		errs.Add("allowed_domain", originDetail)
	}
	if in.TTL < 0 {
		errs.Add("ttl", "must be positive (or absent: no expiry)")
	}
	if err := errs.Err(); err != nil {
		return "", Token{}, err
	}
	if _, err := s.Store.GetAccount(ctx, accountID); err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return "", Token{}, apperr.New(apperr.KindNotFound, "account_not_found", "no account "+accountID)
		}
		return "", Token{}, err
	}
	secret := newSecret()
	t := Token{ID: uuid.NewString(), AccountID: accountID, Name: in.Name, Hash: HashToken(secret),
		Scopes: in.Scopes, AllowedDomain: dom, CreatedAt: s.Clock.Now().UTC().Truncate(time.Microsecond), CreatedBy: in.CreatedBy}
	if in.TTL > 0 {
		t.ExpiresAt = t.CreatedAt.Add(in.TTL).Truncate(time.Second)
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

// Authenticate resolves an Authorization header value to a Principal and
// the token it stands for (LastUsedAt: of the secret presented).
func (s *Service) Authenticate(ctx context.Context, authorization string) (Principal, Token, error) {
	secret := ExtractSecret(authorization)
	if secret == "" {
		return Principal{}, Token{}, apperr.New(apperr.KindUnauthorized, "missing_token", "send Authorization: Bearer <token>")
	}
	if !WellFormed(secret) {
		return Principal{}, Token{}, errBadToken
	}
	t, err := s.Store.GetTokenByHash(ctx, HashToken(secret))
	if errors.Is(err, apperr.ErrNotFound) {
		return Principal{}, Token{}, errBadToken
	}
	if err != nil {
		return Principal{}, Token{}, err
	}
	if !t.Active(s.Clock.Now()) {
		return Principal{}, Token{}, errBadToken
	}
	return t.principal(), t, nil
}

// principal is who presents the secret of t (t as GetTokenByHash reads it:
// Hash is the presented secret's).
func (t Token) principal() Principal {
	return Principal{AccountID: t.AccountID, TokenID: t.ID, Name: t.Name, Scopes: t.Scopes, AllowedDomain: t.AllowedDomain,
		ExpiresAt: t.ExpiresAt, Secret: SecretID(t.Hash)}
}

// WellFormed reports whether a secret has the shape newSecret gives: the
// prefix and 43 characters of unpadded base64url (256 bits).
func WellFormed(secret string) bool { return secrets.WellFormed(TokenPrefix, secret) }

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

// Context keys carried from the authorizer to the handlers.
const (
	CtxAccount = "account_id"
	CtxToken   = "token_id"
	CtxName    = "name"
	CtxScopes  = "scopes"
	CtxDomain  = "allowed_domain"
	CtxExpires = "expires_at" // unix seconds, absent: never
	CtxSecret  = "secret_id"  // SecretID of the secret presented
)

// ToContext flattens a principal into the authorizer context (string values,
// as API Gateway passes them on).
func (p Principal) ToContext() map[string]any {
	sc := make([]string, len(p.Scopes))
	for i, s := range p.Scopes {
		sc[i] = string(s)
	}
	m := map[string]any{CtxAccount: p.AccountID, CtxToken: p.TokenID, CtxName: p.Name,
		CtxScopes: strings.Join(sc, " "), CtxDomain: p.AllowedDomain, CtxSecret: p.Secret}
	if !p.ExpiresAt.IsZero() {
		m[CtxExpires] = strconv.FormatInt(p.ExpiresAt.Unix(), 10)
	}
	return m
}

// FromContext rebuilds the principal a handler received from the authorizer.
func FromContext(m map[string]any) (Principal, error) {
	str := func(k string) string { s, _ := m[k].(string); return s }
	p := Principal{AccountID: str(CtxAccount), TokenID: str(CtxToken), Name: str(CtxName), AllowedDomain: str(CtxDomain), Secret: str(CtxSecret)}
	if p.AccountID == "" {
		return Principal{}, apperr.New(apperr.KindUnauthorized, "unauthenticated", "no authorizer context on this request")
	}
	for _, s := range strings.Fields(str(CtxScopes)) {
		p.Scopes = append(p.Scopes, Scope(s))
	}
	if n, err := strconv.ParseInt(str(CtxExpires), 10, 64); err == nil && n > 0 {
		p.ExpiresAt = time.Unix(n, 0).UTC()
	}
	return p, nil
}
