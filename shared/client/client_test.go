package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fake answers one request the way Anexo (or API Gateway) would, after
// recording it.
type fake struct {
	method, path, auth, body string
	status                   int
	answer                   string
}

func (f *fake) serve(t *testing.T) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.method, f.path, f.auth, f.body = r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), string(b)
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.answer)
	}))
	t.Cleanup(srv.Close)
	return &Client{Endpoint: srv.URL + "/", Token: "anx_t"}
}

// TestRequests: each call sends its method and escaped path with the
// token, and reads the answer.
func TestRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name, method, path string
		call               func(c *Client) error
	}{ // each answer is {"id":"s1"}, a session's shape
		{"abort", "DELETE", "/v1/sessions/a%2Fb", func(c *Client) error { return c.Abort(ctx, "a/b") }},
		{"state", "GET", "/v1/sessions/s1", func(c *Client) error { _, err := c.State(ctx, "s1"); return err }},
		{"open", "POST", "/v1/sessions", func(c *Client) error {
			s, err := c.Open(ctx, OpenInput{FileName: "a.txt", FileSize: 3})
			if err == nil && s.ID != "s1" {
				err = errors.New("session id not read: " + s.ID)
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fake{status: http.StatusOK, answer: `{"id":"s1"}`}
			if err := tc.call(f.serve(t)); err != nil {
				t.Fatal(err)
			}
			if f.method != tc.method || f.path != tc.path || f.auth != "Bearer anx_t" {
				t.Errorf("sent %s %s (%s), want %s %s with the token", f.method, f.path, f.auth, tc.method, tc.path)
			}
		})
	}
	f := &fake{status: http.StatusOK}
	if _, err := f.serve(t).Open(ctx, OpenInput{FileName: "a.txt", FileSize: 0}); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(f.body), &body); err != nil || body["file_size"] != 0.0 || body["file_name"] != "a.txt" {
		t.Errorf("open body %s: a 0-byte file must send file_size 0", f.body)
	}
}

// TestProblems: problem+json answers become *Problem with status, code
// and field; API Gateway's own 401 and 403 get a sentence that says what
// happened.
func TestProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status             int
		answer             string
		code, field, trait string
	}{
		{409, `{"code":"session_not_open","detail":"session s1 is aborted","field":"id"}`, "session_not_open", "id", "aborted"},
		{403, `{"message":"Forbidden"}`, "forbidden", "", "refused the token"},
		{401, `{"message":"Unauthorized"}`, "unauthorized", "", "no token sent"},
		{502, `Bad Gateway`, "bad_gateway", "", "Bad Gateway"},
	} {
		f := &fake{status: tc.status, answer: tc.answer}
		err := f.serve(t).Abort(context.Background(), "s1")
		var p *Problem
		if !errors.As(err, &p) || p.Status != tc.status || p.Code != tc.code || p.Field != tc.field || !IsStatus(err, tc.status) {
			t.Errorf("%d %s: got %#v", tc.status, tc.answer, err)
			continue
		}
		if !strings.Contains(p.Error(), tc.trait) {
			t.Errorf("%d: %q does not say %q", tc.status, p.Error(), tc.trait)
		}
	}
}

// TestThrottledIsRetried: a 503 with Retry-After (storage throttling
// writes) is tried again after the wait, with the same body; a 503
// without it, or one that persists, is the caller's error.
func TestThrottledIsRetried(t *testing.T) {
	t.Parallel()
	var bodies []string
	refusals := 2
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if r.URL.Path == "/v1/down" || refusals > 0 {
			refusals--
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(503)
			_, _ = io.WriteString(w, `{"code":"throttled","status":503,"retry_after_seconds":1}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"s"}`)
	}))
	t.Cleanup(srv.Close)
	c := &Client{Endpoint: srv.URL, Token: "anx_t"}
	s, err := c.Open(context.Background(), OpenInput{FileName: "a", FileSize: 1})
	if err != nil || s.ID != "s" || len(bodies) != 3 || bodies[0] != bodies[2] || !strings.Contains(bodies[2], `"file_name":"a"`) {
		t.Fatalf("%v %v %q", s, err, bodies)
	}
	bodies = nil
	if _, err := c.Do(context.Background(), "GET", "/v1/down", nil, nil); !IsStatus(err, 503) || len(bodies) != Throttled {
		t.Fatalf("%v after %d tries", err, len(bodies))
	}
}

// TestTooManyRequestsIsRetried: API Gateway's 429 (a route's throttle,
// no Retry-After) is tried again after a growing, jittered wait; one that
// persists is the caller's error after Throttled tries.
func TestTooManyRequestsIsRetried(t *testing.T) {
	t.Parallel()
	var tries []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries = append(tries, time.Now())
		if r.URL.Path == "/v1/flooded" || len(tries) < 3 {
			w.WriteHeader(429)
			_, _ = io.WriteString(w, `{"message":"Too Many Requests"}`)
			return
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	c := &Client{Endpoint: srv.URL, Token: "anx_t"}
	if _, err := c.Do(context.Background(), "GET", "/v1/usage", nil, nil); err != nil || len(tries) != 3 || tries[2].Sub(tries[1]) < 500*time.Millisecond {
		t.Fatalf("%v after %d tries", err, len(tries))
	}
	tries = nil
	if _, err := c.Do(context.Background(), "GET", "/v1/flooded", nil, nil); !IsStatus(err, 429) || len(tries) != Throttled {
		t.Fatalf("%v after %d tries", err, len(tries))
	}
}

// TestDownloadWaitsForTheScan: a download answered 409 scan_pending asks
// again after its Retry-After until the link comes, and gives up with the
// problem after ScanWait; other problems are not retried.
func TestDownloadWaitsForTheScan(t *testing.T) {
	t.Parallel()
	var asked, pending atomic.Int32
	pending.Store(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := asked.Add(1)
		switch {
		case strings.HasSuffix(r.URL.Path, "/infected/download"):
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"status":403,"code":"file_infected"}`)
		case n <= pending.Load():
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"status":409,"code":"scan_pending"}`)
		default:
			w.Header().Set("Location", "https://bucket.example/object")
			w.WriteHeader(http.StatusFound)
		}
	}))
	t.Cleanup(srv.Close)
	c := &Client{Endpoint: srv.URL, Token: "anx_t"}
	ctx := context.Background()
	if u, err := c.DownloadURL(ctx, "f", ""); err != nil || u != "https://bucket.example/object" || asked.Load() != 3 {
		t.Fatalf("DownloadURL = %q, %v after %d requests", u, err, asked.Load())
	}
	asked.Store(0)
	var p *Problem
	if _, err := c.DownloadURL(ctx, "infected", ""); !errors.As(err, &p) || p.Code != "file_infected" || asked.Load() != 1 {
		t.Fatalf("an infected file: %v after %d requests", err, asked.Load())
	}
	asked.Store(0)
	pending.Store(100)
	c.ScanWait = 1500 * time.Millisecond
	if _, err := c.DownloadURL(ctx, "f", ""); !errors.As(err, &p) || p.Code != "scan_pending" || asked.Load() != 3 {
		t.Fatalf("a scan that never comes: %v after %d requests", err, asked.Load())
	}
}
