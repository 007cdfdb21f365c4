package httpapi

import (
	"net/http"
	"strings"
	"time"
)

// CORSPolicy is what a page on another origin may do with the API: the
// request headers it may send, the methods, the answer headers it may
// read, and how long a browser keeps a preflight's answer. The stack's
// CorsPreflight and the local router both come from CORS; the origins are
// configuration (allowedOrigins in the stack, ANEXO_CORS_ORIGINS locally).
type CORSPolicy struct {
	Headers, Methods, Expose []string
	MaxAge                   time.Duration
}

// CORS is the API's policy (a file request's page sends its link and
// passcode in headers of their own). Retry-After is exposed so that a page can
// wait as a throttled answer asks; Location, for a download's redirect.
var CORS = CORSPolicy{
	Headers: []string{"Authorization", "Content-Type", "Idempotency-Key", RequestHeader, PasscodeHeader},
	Methods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions},
	Expose:  []string{"Location", "Apigw-Requestid", "Retry-After"},
	MaxAge:  time.Hour,
}

// ConsoleCSP is the files console's Content-Security-Policy: its own
// scripts and styles only (WebAssembly, for the uploads' CRC32C, may
// compile), no inline code, no framing; connections to its own origin, to
// the API at api when the API has another origin ("" when it is the
// page's), and to storage (where parts go and previews and downloads come
// from). Local mode serves it; the stack's CloudFront sends it.
func ConsoleCSP(api string, storage ...string) string {
	s := strings.Join(storage, " ")
	connect := strings.Join(strings.Fields("'self' "+api+" "+s), " ")
	return "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " +
		"img-src 'self' data: blob: " + s + "; connect-src " + connect + "; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}
