package devserver

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/anexo/anexo/shared/inbound/httpapi"
)

// CORS answers cross-origin requests as an HTTP API with CorsPreflight
// does: API Gateway answers a preflight (OPTIONS with
// Access-Control-Request-Method) of any route itself, 204, without the
// authorizer; to a request from an allowed origin it adds the
// Access-Control headers, whatever answered (a function, the authorizer
// or the gateway). A preflight from another origin gets its 204 without
// them, so the browser refuses the request.
type CORS struct {
	Policy  httpapi.CORSPolicy
	Origins []string // "*" for any
}

// allowOrigin is the Access-Control-Allow-Origin for origin ("" for none).
func (c *CORS) allowOrigin(origin string) string {
	switch {
	case origin == "":
		return ""
	case slices.Contains(c.Origins, "*"):
		return "*"
	case slices.ContainsFunc(c.Origins, func(o string) bool { return strings.EqualFold(o, origin) }):
		return origin
	}
	return ""
}

// preflight answers r if it is a preflight, reporting whether it was.
func (c *CORS) preflight(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if allow := c.allowOrigin(r.Header.Get("Origin")); allow != "" {
		h.Set("Access-Control-Allow-Origin", allow)
		h.Set("Access-Control-Allow-Methods", strings.Join(c.Policy.Methods, ","))
		h.Set("Access-Control-Allow-Headers", strings.ToLower(strings.Join(c.Policy.Headers, ",")))
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(c.Policy.MaxAge.Seconds())))
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// decorate adds the headers of an answer to an allowed origin.
func (c *CORS) decorate(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Add("Vary", "Origin")
	if allow := c.allowOrigin(r.Header.Get("Origin")); allow != "" {
		h.Set("Access-Control-Allow-Origin", allow)
		h.Set("Access-Control-Expose-Headers", strings.ToLower(strings.Join(c.Policy.Expose, ",")))
	}
}
