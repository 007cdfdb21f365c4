package auth

import (
	"testing"
)

func TestDomainMatching(t *testing.T) {
	p := Principal{AllowedDomain: "*.example.com"}
	for _, tc := range []struct {
		origin, referer string
		ok              bool
	}{
		{"https://example.com", "", true},
		{"https://crm.example.com", "", true},
		{"https://a.b.example.com:8443", "", true},
		{"https://CRM.Example.COM", "", true},
		{"", "https://crm.example.com/page?x=1", true},
		{"null", "https://crm.example.com/", true},
		{"https://evilexample.com", "", false},
		{"https://example.com.evil.net", "", false},
		{"", "", false},
		{"not a url", "", false},
	} {
		if err := p.CheckOrigin(tc.origin, tc.referer); (err == nil) != tc.ok {
			t.Errorf("origin %q referer %q: %v", tc.origin, tc.referer, err)
		}
	}
	exact := Principal{AllowedDomain: "app.example.com"}
	if exact.CheckOrigin("https://x.app.example.com", "") == nil || exact.CheckOrigin("https://app.example.com", "") != nil {
		t.Error("exact domains must not admit subdomains")
	}
	if (Principal{}).CheckOrigin("", "") != nil {
		t.Error("tokens without allowed_domain accept any origin")
	}
}

func TestNormalizeDomain(t *testing.T) {
	for in, want := range map[string]string{"Example.COM": "example.com", "*.example.com": "*.example.com", "": "", "localhost": "localhost"} {
		if got, err := NormalizeDomain(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"https://example.com", "example.com/path", "a b.com", "*", "com", "user@example.com"} {
		if _, err := NormalizeDomain(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestScopesAndContext(t *testing.T) {
	sc, err := ParseScopes("files:read, files:write files:read")
	if err != nil || len(sc) != 2 {
		t.Fatalf("%v %v", sc, err)
	}
	for _, bad := range []string{"", "files:admin", "read"} {
		if _, err := ParseScopes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	p := Principal{AccountID: "a", TokenID: "t", Name: "CRM", Scopes: sc, AllowedDomain: "x.com"}
	back, err := FromContext(p.ToContext())
	if err != nil || back.AccountID != "a" || back.Name != "CRM" || back.Require(ScopeWrite) != nil || back.Require(ScopeDelete) == nil {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if _, err := FromContext(map[string]any{CtxError: "invalid_token", CtxAccount: "a"}); err == nil {
		t.Fatal("an auth_error context authenticated")
	}
	if _, err := FromContext(nil); err == nil {
		t.Fatal("no context authenticated")
	}
}

func TestExtractSecret(t *testing.T) {
	for in, want := range map[string]string{"Bearer anx_x": "anx_x", "bearer  anx_x ": "anx_x", "anx_x": "anx_x", "": ""} {
		if got := ExtractSecret(in); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
}
