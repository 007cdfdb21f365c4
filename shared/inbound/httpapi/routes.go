package httpapi

import (
	"context"

	"github.com/anexo/anexo/shared/domain/auth"
)

// Route is one API Gateway route, declared once, in the file of the
// feature that serves it: the function that serves it, the scope it needs
// and its handler. The CDK stack deploys All, the local router serves it,
// and the tests check the README and the OpenAPI document against it.
type Route struct {
	Method   string
	Path     string // API Gateway syntax: /v1/sessions/{id}
	Function string // lambdas.*
	// Scope is what the caller's token must carry; Serve checks it before
	// the handler runs. Empty only for public routes.
	Scope  auth.Scope
	Public bool // no authorizer: no token (the companion routes carry a ticket)
	Handle Endpoint
	// Envelope, when set, renders this route's errors for clients that
	// read another error shape (ONLYOFFICE's result envelope).
	Envelope Envelope
}

// Key is the API Gateway route key.
func (r Route) Key() string { return r.Method + " " + r.Path }

// SecretCheck fails unless the caller presented its token's current secret
// (auth.Service.RequireCurrent): what manages anything needs it.
type SecretCheck func(ctx context.Context, p auth.Principal) error

// currentOnly runs h for callers that presented their token's current
// secret.
func currentOnly(check SecretCheck, h Endpoint) Endpoint {
	return func(ctx context.Context, req Request, p auth.Principal) (Response, error) {
		if err := check(ctx, p); err != nil {
			return Response{}, err
		}
		return h(ctx, req, p)
	}
}

// Feature is a set of routes with the services they call.
type Feature interface{ Routes() []Route }

// features are the API's features without services: their routes'
// declarations, for the stack, the local router and the tests.
func features() []Feature {
	return []Feature{&Sessions{}, &Uppy{}, &Files{}, &Account{}, &Entities{}, &Wegly{}, &Kommo{}, &Tokens{}, &Events{}, &Webhooks{}, &FileRequests{}}
}

// All lists every route. Its handlers have no services: they are for
// the route's declaration only.
func All() []Route {
	var all []Route
	for _, f := range features() {
		all = append(all, f.Routes()...)
	}
	return all
}

// Find returns the route with this key.
func Find(key string) (Route, bool) {
	for _, r := range All() {
		if r.Key() == key {
			return r, true
		}
	}
	return Route{}, false
}

// Functions lists the functions that serve routes, in the order of the
// table.
func Functions() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range All() {
		if !seen[r.Function] {
			seen[r.Function] = true
			out = append(out, r.Function)
		}
	}
	return out
}
