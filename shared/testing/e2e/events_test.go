package e2e_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/anexo/anexo/shared/inbound/httpapi"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/inbound/openapi/openapitest"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/testing/testenv"
)

func eventsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "events")
}

// TestEventSamples: every route has a sample event, and every sample is a
// valid payload-2.0 event its function answers without a server error.
func TestEventSamples(t *testing.T) {
	dir := eventsDir() // resolved before the embedded S3 changes directory
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	p, _, err := e.srv.Deps.Auth().Authenticate(context.Background(), c.token)
	if err != nil {
		t.Fatal(err)
	}
	covered, sent := map[string]bool{}, 0
	check := openapitest.New(t)
	for _, fn := range lambdas.HTTP {
		if fn == lambdas.Authorizer {
			continue
		}
		paths, _ := filepath.Glob(filepath.Join(dir, fn, "*.json"))
		if len(paths) == 0 {
			t.Errorf("no sample events for %s", fn)
		}
		for _, path := range paths {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if ev.Version != "2.0" || ev.RouteKey != ev.RequestContext.RouteKey || !strings.HasPrefix(ev.RouteKey, ev.RequestContext.HTTP.Method+" ") {
				t.Fatalf("%s: inconsistent event", path)
			}
			covered[ev.RouteKey] = true
			if r, _ := httpapi.Find(ev.RouteKey); r.Public != (ev.RequestContext.Authorizer == nil) {
				t.Fatalf("%s: public routes carry no authorizer context, others do", path)
			}
			if ev.RequestContext.Authorizer != nil {
				ev.RequestContext.Authorizer.Lambda = p.ToContext()
			}
			resp, err := app.Handler(e.srv.Deps, fn)(context.Background(), ev)
			if err != nil || resp.StatusCode >= 500 || resp.StatusCode == 0 {
				t.Fatalf("%s: %d %s %v", path, resp.StatusCode, resp.Body, err)
			}
			check.Observe(httptest.NewRequest(ev.RequestContext.HTTP.Method, ev.RawPath, nil), resp)
			sent++
		}
	}
	if n := check.Checked(); n != sent {
		t.Errorf("the OpenAPI check validated %d answers of %d", n, sent)
	}
	for _, r := range httpapi.All() {
		if !covered[r.Key()] {
			t.Errorf("route %s has no sample event", r.Key())
		}
	}
	for _, name := range []string{"token.json", "unknown-token.json"} {
		b, err := os.ReadFile(filepath.Join(dir, "authorizer", name))
		if err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayV2CustomAuthorizerV2Request
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		res, err := app.Authorizer(e.srv.Deps)(context.Background(), ev)
		if err != nil || res.IsAuthorized || res.Context != nil { // neither token is in this table
			t.Fatalf("%s: %+v %v", name, res, err)
		}
	}
}
