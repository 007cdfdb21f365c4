package auth

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/anexo/anexo/shared/apperr"
	"github.com/anexo/anexo/shared/ids"
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
	if err := p.Require(ScopeTokens); err != nil {
		return nil, err
	}
	ts, err := s.Store.ListTokens(ctx, p.AccountID)
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
	if err := p.Require(ScopeTokens); err != nil {
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

// MintToken creates a token in the caller's account; it is recorded as
// created by the caller's token.
func (s *Service) MintToken(ctx context.Context, p Principal, in NewToken) (string, Token, error) {
	if err := p.Require(ScopeTokens); err != nil {
		return "", Token{}, err
	}
	in.CreatedBy = p.Name
	return s.CreateToken(ctx, p.AccountID, in)
}

// RevokeToken ends every secret of a token at once (each authorizer cache
// entry expires within its TTL) and every ticket it minted. Revoking a
// revoked token changes nothing.
func (s *Service) RevokeToken(ctx context.Context, p Principal, id string) (Token, error) {
	if err := p.Require(ScopeTokens); err != nil {
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
	if err := p.Require(ScopeTokens); err != nil {
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

// CheckLive fails unless the token is still active: an upload ticket is
// honoured only while the token that minted it is neither revoked nor
// expired.
func (s *Service) CheckLive(ctx context.Context, accountID, tokenID string) error {
	t, err := s.Store.GetToken(ctx, accountID, tokenID)
	if errors.Is(err, apperr.ErrNotFound) || err == nil && !t.Active(s.Clock.Now()) {
		return apperr.New(apperr.KindUnauthorized, "invalid_ticket", "the token that minted this upload ticket was revoked or expired").With("field", "ticket")
	}
	return err
}

// ListAccounts lists every account (operators only: not an API route).
func (s *Service) ListAccounts(ctx context.Context) ([]Account, error) {
	as, err := s.Store.ListAccounts(ctx)
	slices.SortFunc(as, func(a, b Account) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return as, err
}
