package httpapi

import (
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"

	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/inbound/openapi"
)

// TestRouteTable: every route is declared once, is served by a function
// the stack deploys, and carries a scope unless public; every function of
// lambdas.HTTP serves a route.
func TestRouteTable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, r := range All() {
		switch {
		case seen[r.Key()]:
			t.Errorf("%s is declared twice", r.Key())
		case !slices.Contains(lambdas.HTTP, r.Function) || r.Function == lambdas.Authorizer:
			t.Errorf("%s: %q serves no routes", r.Key(), r.Function)
		case r.Public == (r.Scope != ""):
			t.Errorf("%s: public %v with scope %q", r.Key(), r.Public, r.Scope)
		case r.Handle == nil:
			t.Errorf("%s has no handler", r.Key())
		}
		seen[r.Key()] = true
	}
	want := append([]string{lambdas.Authorizer}, Functions()...)
	if got := slices.Sorted(slices.Values(lambdas.HTTP)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("lambdas.HTTP = %v, the route table's functions are %v", lambdas.HTTP, want)
	}
}

// TestOpenAPIMatchesRoutes: the OpenAPI document describes exactly the
// route table's operations, and marks exactly the public ones as needing
// no credentials.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	doc, err := libopenapi.NewDocument(openapi.YAML)
	if err != nil {
		t.Fatal(err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{} // route key → public
	for path, item := range m.Model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			documented[strings.ToUpper(method)+" "+path] = op.Security != nil && len(op.Security) == 0
		}
	}
	for _, r := range All() {
		public, ok := documented[r.Key()]
		switch {
		case !ok:
			t.Errorf("openapi.yaml lacks %s", r.Key())
		case public != r.Public:
			t.Errorf("openapi.yaml: %s public %v, the route table says %v", r.Key(), public, r.Public)
		}
		delete(documented, r.Key())
	}
	for key := range documented {
		t.Errorf("openapi.yaml documents %s, which is no route", key)
	}
}
