package httpapi

import (
	"net/http"
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

// CORS is the API's policy. Retry-After is exposed so that a page can
// wait as a throttled answer asks; Location, for a download's redirect.
var CORS = CORSPolicy{
	Headers: []string{"Authorization", "Content-Type", "Idempotency-Key"},
	Methods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions},
	Expose:  []string{"Location", "Apigw-Requestid", "Retry-After"},
	MaxAge:  time.Hour,
}
