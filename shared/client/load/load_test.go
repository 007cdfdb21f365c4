package load_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/anexo/anexo/shared/client"
	"github.com/anexo/anexo/shared/client/load"
)

// TestRunReportsFailures: a server that answers usage but fails everything
// else with 500 makes a run that is not OK, counted as 5xx; a server whose
// counters move without files fails the usage check.
func TestRunReportsFailures(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/usage" {
			calls++
			if calls > 1 {
				_, _ = w.Write([]byte(`{"used_bytes":5,"trashed_bytes":0,"file_count":1}`))
				return
			}
			_, _ = w.Write([]byte(`{"used_bytes":0,"trashed_bytes":0,"file_count":0}`))
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(500)
		_, _ = w.Write([]byte(`{"status":500,"code":"internal"}`))
	}))
	defer srv.Close()
	rep, err := load.Run(context.Background(), load.Config{Client: &client.Client{Endpoint: srv.URL, Token: "t"}, Ops: 40, Concurrency: 2, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.ServerErrors() == 0 || len(rep.Failures) == 0 {
		t.Fatalf("a failing server passed: ok=%v 5xx=%d failures=%d", rep.OK(), rep.ServerErrors(), len(rep.Failures))
	}
	if rep.Usage.Want == rep.Usage.Got {
		t.Fatalf("usage check passed: %+v", rep.Usage)
	}
}
