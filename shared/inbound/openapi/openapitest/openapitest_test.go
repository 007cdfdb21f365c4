package openapitest

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestCheckerFails proves the check can fail: responses that drift from
// the document are reported, matching ones are not.
func TestCheckerFails(t *testing.T) {
	c := &Checker{v: Validator(t)}
	ok := `{"used_bytes":1,"trashed_bytes":0,"quota_bytes":null,"available_bytes":null,"file_count":1,"version_count":1,"at":"2026-11-25T10:00:00Z"}`
	for _, tc := range []struct {
		method, path string
		status       int
		ct, body     string
		valid        bool
	}{
		{"GET", "/v1/usage", 200, "application/json", ok, true},
		{"GET", "/v1/usage", 200, "application/json", strings.Replace(ok, `"file_count":1,`, ``, 1), false},
		{"GET", "/v1/usage", 200, "application/json", strings.Replace(ok, `"file_count":1`, `"file_count":"1"`, 1), false},
		{"GET", "/v1/usage", 200, "application/json", strings.Replace(ok, `{`, `{"extra":1,`, 1), false},
		{"GET", "/v1/files/x", 404, "application/problem+json", `{"type":"t","title":"Not Found","status":404,"code":"file_not_found","detail":"d","request_id":"r"}`, true},
		{"GET", "/v1/files/x", 404, "application/problem+json", `{"status":404}`, false},
		{"POST", "/integrations/external/files/batches", 201, "application/json", `{"id":"x"}`, false},
		{"GET", "/v1/entities/lead/1", 200, "application/json", `{"type":"ticket","uuid":"3c90c3cc-0d44-4b50-8888-8dd25736052a","code":1,"title":"","created_at":"2026-11-25T10:00:00Z","updated_at":"2026-11-25T10:00:00Z","created_by":"a","updated_by":"a","_links":{}}`, false},
	} {
		c.failures = nil
		r := httptest.NewRequest(tc.method, tc.path, nil)
		c.Observe(r, events.APIGatewayV2HTTPResponse{StatusCode: tc.status, Headers: map[string]string{"Content-Type": tc.ct}, Body: tc.body})
		if got := len(c.failures) == 0; got != tc.valid {
			t.Errorf("%s %s %d %s: valid=%v, want %v %v", tc.method, tc.path, tc.status, tc.body, got, tc.valid, c.failures)
		}
	}
}
