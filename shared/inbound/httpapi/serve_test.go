package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/inbound/httpapi"
)

type failing struct{ err error }

func (f failing) Routes() []httpapi.Route {
	return []httpapi.Route{{Method: "GET", Path: "/x", Function: "f", Public: true,
		Handle: func(context.Context, httpapi.Request, auth.Principal) (httpapi.Response, error) {
			return httpapi.Response{}, f.err
		}}}
}

// awsError is how the SDK's errors present their code.
type awsError struct{ code string }

func (e awsError) Error() string     { return e.code }
func (e awsError) ErrorCode() string { return e.code }

// TestThrottlingIs503: a request the store refused for its rate (after the
// SDK's and the adapter's retries) answers 503 throttled with Retry-After,
// so clients back off and retry; other failures stay 500.
func TestThrottlingIs503(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("commit: %w", awsError{"ThrottlingException"}), 503},
		{fmt.Errorf("open: %w", awsError{"ProvisionedThroughputExceededException"}), 503},
		{awsError{"SlowDown"}, 503},
		{fmt.Errorf("%w: cancelled", apperr.ErrThrottled), 503},
		{awsError{"AccessDeniedException"}, 500},
		{errors.New("boom"), 500},
	} {
		h := httpapi.Serve(log, "f", failing{tc.err})
		resp, _ := h(context.Background(), httpapi.Request{RouteKey: "GET /x"})
		var doc map[string]any
		_ = json.Unmarshal([]byte(resp.Body), &doc)
		if resp.StatusCode != tc.want {
			t.Fatalf("%v: %d %s", tc.err, resp.StatusCode, resp.Body)
		}
		if tc.want == 503 && (doc["code"] != "throttled" || resp.Headers["Retry-After"] != "1") {
			t.Fatalf("%v: %v %s", tc.err, resp.Headers, resp.Body)
		}
	}
}
