package auth

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/ids"
)

// Token lifecycle: the account's owners (tokens:admin) list, mint, rotate
// and revoke its tokens; the authorizer records when each secret was last
// used; upload tickets stay valid only while the token that minted them is.

const (
	// DefaultRotationGrace keeps a rotated-out secret valid long enough for
	// a deployment to pick up the new one.
	DefaultRotationGrace = 24 * time.Hour
	// MaxRotationGrace bounds it.
	MaxRotationGrace = 7 * 24 * time.Hour
	// MaxPreviousSecrets bounds the replaced secrets a token keeps valid;
	// a rotation past it ends the oldest at once.
	MaxPreviousSecrets = 3
	// TouchEvery is how stale a secret's last-used time may get: the
	// authorizer writes it at most this often per secret.
	TouchEvery = 5 * time.Minute
)

func tokenNotFound(id string) error {
	return apperr.New(apperr.KindNotFound, "token_not_found", "no token "+id+" in this account")
}

// ListTokens lists the account's tokens, revoked ones included (they are
// kept 30 days), active first, then newest first.
func (s *Service) ListTokens(ctx context.Context, p Principal) ([]Token, error) {
	if _, err := s.manager(ctx, p); err != nil {
		return nil, err
	}
	return s.AccountTokens(ctx, p.AccountID)
}

// AccountTokens lists an account's tokens as ListTokens does, for
// operators (not an API route).
func (s *Service) AccountTokens(ctx context.Context, accountID string) ([]Token, error) {
	ts, err := s.Store.ListTokens(ctx, accountID)
	if err == nil {
		err = s.Store.LastUsed(ctx, ts)
	}
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	sort.SliceStable(ts, func(i, j int) bool {
		if a, b := ts[i].Active(now), ts[j].Active(now); a != b {
			return a
		}
		return ts[i].CreatedAt.After(ts[j].CreatedAt)
	})
	return ts, nil
}

// GetToken reads one of the account's tokens.
func (s *Service) GetToken(ctx context.Context, p Principal, id string) (Token, error) {
	if _, err := s.manager(ctx, p); err != nil {
		return Token{}, err
	}
	t, err := s.token(ctx, p.AccountID, id)
	if err != nil {
		return Token{}, err
	}
	ts := []Token{t}
	if err := s.Store.LastUsed(ctx, ts); err != nil {
		return Token{}, err
	}
	return ts[0], nil
}

func (s *Service) token(ctx context.Context, accountID, id string) (Token, error) {
	if !ids.Valid(id) {
		return Token{}, apperr.Invalid("id", "must be a token id (a UUID)")
	}
	t, err := s.Store.GetToken(ctx, accountID, id)
	if errors.Is(err, apperr.ErrNotFound) {
		return Token{}, tokenNotFound(id)
	}
	return t, err
}

// manager is the caller's token, when the caller may manage the account's
// tokens: tokens:admin, presented with the token's current secret.
func (s *Service) manager(ctx context.Context, p Principal) (Token, error) {
	if err := p.Require(ScopeTokens); err != nil {
		return Token{}, err
	}
	return s.CurrentSecret(ctx, p)
}

// CurrentSecret is the caller's token, read now, when the caller presented
// its current secret. A secret a rotation replaced keeps the token's files
// scopes through its grace period, but managing anything — tokens,
// webhooks, upload tickets — takes the current one: otherwise whoever
// holds a leaked secret could rotate the token away from its owner. The
// check reads the token (the authorizer's answer may be cached from
// before the rotation).
func (s *Service) CurrentSecret(ctx context.Context, p Principal) (Token, error) {
	t, err := s.Store.GetToken(ctx, p.AccountID, p.TokenID)
	if errors.Is(err, apperr.ErrNotFound) || err == nil && !t.Active(s.Clock.Now()) {
		return Token{}, errBadToken
	}
	if err != nil {
		return Token{}, err
	}
	if current, _ := t.holds(p.Secret, s.Clock.Now()); !current {
		return Token{}, apperr.New(apperr.KindForbidden, "secret_replaced",
			"this secret was replaced by a rotation: until its grace period ends it keeps the token's files scopes, "+
				"but only the token's current secret manages tokens, webhooks and upload tickets")
	}
	return t, nil
}

// RequireCurrent fails unless the caller presented its token's current
// secret (CurrentSecret).
func (s *Service) RequireCurrent(ctx context.Context, p Principal) error {
	_, err := s.CurrentSecret(ctx, p)
	return err
}

// MintToken creates a token in the caller's account; it is recorded as
// created by the caller's token. A minted token never outgrows its
// minter: its scopes are among the minter's, it expires no later, and its
// allowed_domain is the minter's or narrower.
func (s *Service) MintToken(ctx context.Context, p Principal, in NewToken) (string, Token, error) {
	m, err := s.manager(ctx, p)
	if err != nil {
		return "", Token{}, err
	}
	if err := bounded(m, in, s.Clock.Now()); err != nil {
		return "", Token{}, err
	}
	in.CreatedBy = p.Name
	return s.CreateToken(ctx, p.AccountID, in)
}

// bounded fails unless a token minted as in by m at now stays within m.
func bounded(m Token, in NewToken, now time.Time) error {
	var errs apperr.Fields
	for i, sc := range in.Scopes {
		if !slices.Contains(m.Scopes, sc) {
			errs.Add("scopes["+strconv.Itoa(i)+"]", "this token does not hold "+string(sc)+"; a token can mint only scopes it holds")
		}
	}
	if !m.ExpiresAt.IsZero() {
		left := int64(m.ExpiresAt.Sub(now) / time.Second)
		switch {
		case in.TTL <= 0:
			errs.Add("ttl_seconds", "this token expires at "+m.ExpiresAt.UTC().Format(time.RFC3339)+
				", so a token it mints must expire too: give ttl_seconds of at most "+strconv.FormatInt(left, 10))
		case now.Add(in.TTL).Truncate(time.Second).After(m.ExpiresAt):
			errs.Add("ttl_seconds", "must be at most "+strconv.FormatInt(left, 10)+": a minted token cannot outlive this token (expires "+
				m.ExpiresAt.UTC().Format(time.RFC3339)+")")
		}
	}
	if m.AllowedDomain != "" {
		if d, err := NormalizeOrigin(in.AllowedDomain); err == nil && !OriginWithin(m.AllowedDomain, d) {
			errs.Add("allowed_domain", "must be "+m.AllowedDomain+" or narrower: this token is restricted to it, and so is every token it mints")
		}
	}
	return errs.Err()
}

// RevokeToken ends every secret of a token at once (each authorizer cache
// entry expires within its TTL) and every ticket it minted. Revoking a
// revoked token changes nothing.
func (s *Service) RevokeToken(ctx context.Context, p Principal, id string) (Token, error) {
	if _, err := s.manager(ctx, p); err != nil {
		return Token{}, err
	}
	for attempt := 0; ; attempt++ {
		t, err := s.token(ctx, p.AccountID, id)
		if err != nil || !t.RevokedAt.IsZero() {
			return t, err
		}
		at := s.Clock.Now().UTC().Truncate(time.Microsecond)
		err = s.Store.RevokeToken(ctx, t, at)
		if errors.Is(err, apperr.ErrConflict) && attempt < 3 {
			continue // rotated or revoked meanwhile: read it again
		}
		if err != nil {
			return Token{}, err
		}
		t.RevokedAt = at
		return t, nil
	}
}

// RotateToken gives a token a new secret (same id, name, scopes and
// allowed_domain) and keeps the current one valid for grace (0: ends it at
// once). A retried rotation mints another secret; the one it replaces
// stays valid through the grace period like any other.
func (s *Service) RotateToken(ctx context.Context, p Principal, id string, grace time.Duration) (string, Token, error) {
	if _, err := s.manager(ctx, p); err != nil {
		return "", Token{}, err
	}
	if grace < 0 || grace > MaxRotationGrace {
		return "", Token{}, apperr.Invalid("grace_seconds", "must be from 0 to 604800 (7 days)")
	}
	t, err := s.token(ctx, p.AccountID, id)
	if err != nil {
		return "", Token{}, err
	}
	now := s.Clock.Now().UTC().Truncate(time.Microsecond)
	if !t.Active(now) {
		return "", Token{}, apperr.New(apperr.KindConflict, "token_inactive", "token "+id+" is revoked or expired; mint a new one")
	}
	secret := newSecret()
	next := t
	next.Hash, next.RotatedAt, next.LastUsedAt = HashToken(secret), now, time.Time{}
	next.Previous = nil
	var drop []string
	for _, old := range t.Previous {
		if old.Until.After(now) {
			next.Previous = append(next.Previous, old)
		} else {
			drop = append(drop, old.Hash)
		}
	}
	until := now.Add(grace)
	if !t.ExpiresAt.IsZero() && t.ExpiresAt.Before(until) {
		until = t.ExpiresAt
	}
	if grace > 0 {
		next.Previous = append(next.Previous, Secret{Hash: t.Hash, Until: until, LastUsedAt: t.LastUsedAt})
	} else {
		drop = append(drop, t.Hash)
	}
	for len(next.Previous) > MaxPreviousSecrets {
		drop = append(drop, next.Previous[0].Hash)
		next.Previous = next.Previous[1:]
	}
	if err := s.Store.RotateToken(ctx, t, next, drop); err != nil {
		if errors.Is(err, apperr.ErrConflict) {
			return "", Token{}, apperr.New(apperr.KindConflict, "token_changed", "token "+id+" was rotated or revoked meanwhile; read it again")
		}
		return "", Token{}, err
	}
	return secret, next, nil
}

// Touch records that t's presented secret was used at now, at most once
// per TouchEvery (the authorizer calls it; a failure only loses a
// timestamp).
func (s *Service) Touch(ctx context.Context, t Token, hash string) error {
	now := s.Clock.Now().UTC().Truncate(time.Microsecond)
	if !t.LastUsedAt.IsZero() && now.Sub(t.LastUsedAt) < TouchEvery {
		return nil
	}
	err := s.Store.TouchToken(ctx, hash, now, now.Add(-TouchEvery))
	if errors.Is(err, apperr.ErrConflict) || errors.Is(err, apperr.ErrNotFound) {
		return nil // touched by a concurrent call, or revoked meanwhile
	}
	return err
}

// CheckLive fails unless the secret that minted an upload ticket still
// authenticates: its token is neither revoked nor expired, and the secret
// (SecretID; empty for tickets minted before tickets named it) is the
// token's current one or a replaced one still in its grace period. A
// rotation with no grace thus ends the tickets of the secret it replaced.
func (s *Service) CheckLive(ctx context.Context, accountID, tokenID, secret string) error {
	t, err := s.Store.GetToken(ctx, accountID, tokenID)
	now := s.Clock.Now()
	if errors.Is(err, apperr.ErrNotFound) || err == nil && !t.Active(now) {
		return apperr.New(apperr.KindUnauthorized, "invalid_ticket", "the token that minted this upload ticket was revoked or expired").With("field", "ticket")
	}
	if err != nil || secret == "" {
		return err
	}
	if _, valid := t.holds(secret, now); valid {
		return nil
	}
	return apperr.New(apperr.KindUnauthorized, "invalid_ticket", "the secret that minted this upload ticket was rotated out").With("field", "ticket")
}

// ListAccounts lists every account (operators only: not an API route).
func (s *Service) ListAccounts(ctx context.Context) ([]Account, error) {
	as, err := s.Store.ListAccounts(ctx)
	slices.SortFunc(as, func(a, b Account) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return as, err
}
