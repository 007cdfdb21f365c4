package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/adapters/memory"
	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
)

type lifecycle struct {
	t       *testing.T
	svc     *auth.Service
	now     time.Time
	account string
}

func newLifecycle(t *testing.T) *lifecycle {
	l := &lifecycle{t: t, now: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}
	l.svc = &auth.Service{Store: &memory.Store{}, Clock: func() time.Time { return l.now }}
	a, err := l.svc.CreateAccount(context.Background(), "crm", 0)
	if err != nil {
		t.Fatal(err)
	}
	l.account = a.ID
	return l
}

// login authenticates a secret as the authorizer does.
func (l *lifecycle) login(secret string) auth.Principal {
	l.t.Helper()
	p, _, err := l.svc.Authenticate(context.Background(), "Bearer "+secret)
	if err != nil {
		l.t.Fatalf("authenticate: %v", err)
	}
	back, err := auth.FromContext(p.ToContext()) // through API Gateway's context
	if err != nil {
		l.t.Fatal(err)
	}
	return back
}

func (l *lifecycle) mint(in auth.NewToken) (string, auth.Token) {
	l.t.Helper()
	if in.Name == "" {
		in.Name = "t"
	}
	s, tok, err := l.svc.CreateToken(context.Background(), l.account, in)
	if err != nil {
		l.t.Fatal(err)
	}
	return s, tok
}

func code(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Code
	}
	return ""
}

func field(err error) string {
	if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
		return e.Fields[0].Field
	}
	return ""
}

// TestReplacedSecretManagesNothing: a secret a rotation replaced keeps the
// token's files scopes through its grace, but cannot rotate, revoke or
// mint (the second review's takeover), nor read the token list; its
// tickets end with it.
func TestReplacedSecretManagesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLifecycle(t)
	s0, tok := l.mint(auth.NewToken{Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeWrite, auth.ScopeTokens}})
	old := l.login(s0)
	s1, _, err := l.svc.RotateToken(ctx, old, tok.ID, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	old = l.login(s0) // still authenticates, in its grace
	if !old.Has(auth.ScopeRead) {
		t.Fatal("the replaced secret lost its files scopes")
	}
	if _, _, err := l.svc.RotateToken(ctx, old, tok.ID, 0); code(err) != "secret_replaced" {
		t.Fatalf("the replaced secret rotated: %v", err)
	}
	if _, err := l.svc.RevokeToken(ctx, old, tok.ID); code(err) != "secret_replaced" {
		t.Fatalf("the replaced secret revoked: %v", err)
	}
	if _, _, err := l.svc.MintToken(ctx, old, auth.NewToken{Name: "x", Scopes: []auth.Scope{auth.ScopeRead}}); code(err) != "secret_replaced" {
		t.Fatalf("the replaced secret minted: %v", err)
	}
	if _, err := l.svc.ListTokens(ctx, old); code(err) != "secret_replaced" {
		t.Fatalf("the replaced secret listed: %v", err)
	}
	cur := l.login(s1)
	if err := l.svc.RequireCurrent(ctx, cur); err != nil {
		t.Fatalf("the current secret: %v", err)
	}
	// tickets: the replaced secret's work through its grace, and end with a rotation without grace
	if err := l.svc.CheckLive(ctx, l.account, tok.ID, old.Secret); err != nil {
		t.Fatalf("a ticket of a secret in its grace: %v", err)
	}
	if _, _, err := l.svc.RotateToken(ctx, cur, tok.ID, 0); err != nil {
		t.Fatal(err)
	}
	if err := l.svc.CheckLive(ctx, l.account, tok.ID, cur.Secret); code(err) != "invalid_ticket" {
		t.Fatalf("a ticket of the replaced secret after a rotation without grace: %v", err)
	}
	if err := l.svc.CheckLive(ctx, l.account, tok.ID, old.Secret); err != nil {
		t.Fatalf("the first secret's grace ended with an unrelated rotation: %v", err)
	}
	l.now = l.now.Add(11 * time.Minute)
	if err := l.svc.CheckLive(ctx, l.account, tok.ID, old.Secret); code(err) != "invalid_ticket" {
		t.Fatalf("a ticket of a secret past its grace: %v", err)
	}
}

// TestMintedTokensStayWithinTheMinter: scopes, expiry and allowed_domain
// of a minted token never exceed its minter's.
func TestMintedTokensStayWithinTheMinter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLifecycle(t)
	s, _ := l.mint(auth.NewToken{Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeTokens}, TTL: time.Hour,
		AllowedDomain: "https://*.app.example.com"})
	p := l.login(s)
	for name, tc := range map[string]struct {
		in    auth.NewToken
		field string
	}{
		"a scope it lacks":     {auth.NewToken{Scopes: []auth.Scope{auth.ScopeWrite}, TTL: time.Minute, AllowedDomain: "https://app.example.com"}, "scopes[0]"},
		"no expiry":            {auth.NewToken{Scopes: []auth.Scope{auth.ScopeRead}, AllowedDomain: "https://app.example.com"}, "ttl_seconds"},
		"ten years":            {auth.NewToken{Scopes: []auth.Scope{auth.ScopeRead}, TTL: 10 * 365 * 24 * time.Hour, AllowedDomain: "https://app.example.com"}, "ttl_seconds"},
		"an hour and a second": {auth.NewToken{Scopes: []auth.Scope{auth.ScopeRead}, TTL: time.Hour + time.Second, AllowedDomain: "https://app.example.com"}, "ttl_seconds"},
		"unrestricted":         {auth.NewToken{Scopes: []auth.Scope{auth.ScopeRead}, TTL: time.Minute}, "allowed_domain"},
		"another domain":       {auth.NewToken{Scopes: []auth.Scope{auth.ScopeRead}, TTL: time.Minute, AllowedDomain: "https://evil.com"}, "allowed_domain"},
		"the parent domain":    {auth.NewToken{Scopes: []auth.Scope{auth.ScopeRead}, TTL: time.Minute, AllowedDomain: "https://*.example.com"}, "allowed_domain"},
		"another port":         {auth.NewToken{Scopes: []auth.Scope{auth.ScopeRead}, TTL: time.Minute, AllowedDomain: "https://app.example.com:8443"}, "allowed_domain"},
	} {
		if _, _, err := l.svc.MintToken(ctx, p, tc.in); field(err) != tc.field {
			t.Errorf("%s: %v, want a %s error", name, err, tc.field)
		}
	}
	for _, dom := range []string{"https://app.example.com", "https://*.eu.app.example.com", "https://*.app.example.com"} {
		_, tok, err := l.svc.MintToken(ctx, p, auth.NewToken{Name: "ok", Scopes: []auth.Scope{auth.ScopeRead}, TTL: time.Hour, AllowedDomain: dom})
		if err != nil || tok.AllowedDomain != dom {
			t.Errorf("%s within the minter: %v", dom, err)
		}
	}
	// an unrestricted, unexpiring minter mints anything it holds
	s, _ = l.mint(auth.NewToken{Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeTokens}})
	if _, _, err := l.svc.MintToken(ctx, l.login(s), auth.NewToken{Name: "free", Scopes: []auth.Scope{auth.ScopeRead}}); err != nil {
		t.Fatal(err)
	}
}

func TestWildcardsOverPublicSuffixes(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"https://*.co.uk", "https://*.github.io", "https://*.com", "https://*.com.br", "https://*.s3.amazonaws.com"} {
		if got, err := auth.NormalizeOrigin(bad); err == nil {
			t.Errorf("%s accepted as %s", bad, got)
		}
	}
	for _, ok := range []string{"https://*.example.co.uk", "https://*.me.github.io", "https://co.uk", "https://*.example.com"} {
		if _, err := auth.NormalizeOrigin(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}
