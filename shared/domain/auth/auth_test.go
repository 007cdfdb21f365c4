package auth

import (
	"strings"
	"testing"
	"time"
)

func TestOriginMatching(t *testing.T) {
	t.Parallel()
	p := Principal{AllowedDomain: "https://*.example.com"}
	for _, tc := range []struct {
		origin, referer string
		ok              bool
	}{
		{"https://example.com", "", true},
		{"https://crm.example.com", "", true},
		{"https://crm.example.com:443", "", true},
		{"https://CRM.Example.COM", "", true},
		{"", "https://crm.example.com/page?x=1", true},
		{"null", "https://crm.example.com/", true},
		{"https://a.b.example.com:8443", "", false}, // another port
		{"http://crm.example.com", "", false},       // another scheme
		{"ws://crm.example.com", "", false},
		{"http://crm.example.com:1234", "", false},
		{"https://evilexample.com", "", false},
		{"https://example.com.evil.net", "", false},
		{"", "", false},
		{"not a url", "", false},
	} {
		if err := p.CheckOrigin(tc.origin, tc.referer); (err == nil) != tc.ok {
			t.Errorf("origin %q referer %q: %v", tc.origin, tc.referer, err)
		}
	}
	exact := Principal{AllowedDomain: "https://app.example.com"}
	if exact.CheckOrigin("https://x.app.example.com", "") == nil || exact.CheckOrigin("https://app.example.com", "") != nil {
		t.Error("exact origins must not admit subdomains")
	}
	legacy := Principal{AllowedDomain: "app.example.com"} // stored before origins: https
	if legacy.CheckOrigin("https://app.example.com", "") != nil || legacy.CheckOrigin("http://app.example.com", "") == nil {
		t.Error("a bare host means https")
	}
	dev := Principal{AllowedDomain: "http://localhost:3000"}
	if dev.CheckOrigin("http://localhost:3000", "") != nil || dev.CheckOrigin("http://localhost:3001", "") == nil || dev.CheckOrigin("https://localhost:3000", "") == nil {
		t.Error("loopback origins match scheme and port")
	}
	if (Principal{}).CheckOrigin("", "") != nil {
		t.Error("tokens without allowed_domain accept any origin")
	}
}

func TestNormalizeOrigin(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Example.COM": "https://example.com", "*.example.com": "https://*.example.com", "": "",
		"https://app.example.com/": "https://app.example.com", "https://app.example.com:443": "https://app.example.com",
		"https://app.example.com:8443": "https://app.example.com:8443", "http://localhost:3000": "http://localhost:3000",
		"http://127.0.0.1:8080": "http://127.0.0.1:8080", "https://localhost": "https://localhost",
	} {
		if got, err := NormalizeOrigin(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"http://example.com", "ws://example.com", "example.com/path", "https://example.com/path",
		"a b.com", "*", "com", "user@example.com", "https://u:p@example.com", "http://*.localhost:3000",
		"https://example.com:99999", "https://example.com:", "https://example.com?x=1", "ftp://example.com"} {
		if got, err := NormalizeOrigin(bad); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}

func TestScopesAndContext(t *testing.T) {
	sc, err := ParseScopes("files:read, files:write files:read")
	if err != nil || len(sc) != 2 {
		t.Fatalf("%v %v", sc, err)
	}
	for _, bad := range []string{"", "files:admin", "read", "tokens:read"} {
		if _, err := ParseScopes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	exp := time.Unix(1_900_000_000, 0).UTC()
	p := Principal{AccountID: "a", TokenID: "t", Name: "CRM", Scopes: sc, AllowedDomain: "https://x.com", ExpiresAt: exp}
	back, err := FromContext(p.ToContext())
	if err != nil || back.AccountID != "a" || back.Name != "CRM" || back.Require(ScopeWrite) != nil || back.Require(ScopeDelete) == nil ||
		!back.ExpiresAt.Equal(exp) {
		t.Fatalf("round trip: %+v %v", back, err)
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

func TestWellFormed(t *testing.T) {
	t.Parallel()
	if s := newSecret(); !WellFormed(s) {
		t.Fatalf("a minted secret is malformed: %q", s)
	}
	for _, bad := range []string{"", "anx_", "anx_short", "xyz_" + strings.Repeat("A", 43), "anx_" + strings.Repeat("A", 44),
		"anx_" + strings.Repeat("*", 43), strings.Repeat("anx_", 40)} {
		if WellFormed(bad) {
			t.Errorf("%q is well formed", bad)
		}
	}
}
