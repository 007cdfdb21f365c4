package httpapi

import (
	"context"
	"crypto/subtle"

	"github.com/anexo/anexo/shared/base/apperr"
)

// OriginHeader carries the edge's shared secret: with the stack's edge on,
// CloudFront adds it to every request it forwards, and the API refuses a
// request without it — one sent to the execute-api URL, around CloudFront
// and WAF. (API Gateway hands headers over in lower case.)
const OriginHeader = "x-origin-verify"

// FromEdge reports whether headers carry the edge's secret; with no secret
// (no edge) every request passes.
func FromEdge(secret string, headers map[string]string) bool {
	return secret == "" || subtle.ConstantTimeCompare([]byte(headers[OriginHeader]), []byte(secret)) == 1
}

// Edge answers 403 origin_forbidden to a request that did not come
// through the edge (FromEdge), before any route runs; with no secret it
// is h itself.
func Edge(secret string, h Handler) Handler {
	if secret == "" {
		return h
	}
	return func(ctx context.Context, req Request) (Response, error) {
		if !FromEdge(secret, req.Headers) {
			err := apperr.New(apperr.KindForbidden, "origin_forbidden", "this API is served through its edge (CloudFront): use the stack's EdgeUrl")
			return secured(problemJSON(err, req.RequestContext.RequestID)), nil
		}
		return h(ctx, req)
	}
}
