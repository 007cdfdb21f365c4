package httpapi

import (
	"strings"
	"testing"
)

// TestConsoleCSP: the console's policy admits its own origin, the API's
// when it has another, and storage; nothing inline, no eval, no framing.
func TestConsoleCSP(t *testing.T) {
	for _, tc := range []struct{ api, want string }{
		{"", "connect-src 'self' https://b.s3.sa-east-1.amazonaws.com https://p.s3.sa-east-1.amazonaws.com;"},
		{"https://api.example.com/", "connect-src 'self' https://api.example.com/ https://b.s3.sa-east-1.amazonaws.com https://p.s3.sa-east-1.amazonaws.com;"},
	} {
		p := ConsoleCSP(tc.api, "https://b.s3.sa-east-1.amazonaws.com", "https://p.s3.sa-east-1.amazonaws.com")
		for _, want := range []string{tc.want, "default-src 'none'", "script-src 'self' 'wasm-unsafe-eval';", "style-src 'self';", "frame-ancestors 'none'",
			"img-src 'self' data: blob: https://b.s3.sa-east-1.amazonaws.com https://p.s3.sa-east-1.amazonaws.com;"} {
			if !strings.Contains(p, want) {
				t.Errorf("api %q: the policy lacks %q: %s", tc.api, want, p)
			}
		}
		if strings.Contains(p, "  ") || strings.Contains(p, "unsafe-inline") || strings.Contains(p, "'unsafe-eval'") {
			t.Errorf("api %q: %s", tc.api, p)
		}
	}
}
