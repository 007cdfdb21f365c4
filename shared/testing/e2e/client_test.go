package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/inbound/openapi/openapitest"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/presigned"
	"github.com/anexo/anexo/shared/testing/sdkprobe"
	"github.com/anexo/anexo/shared/testing/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m, catalogueCovered) }

// clock is a test clock the services read; presigning keeps real time.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
	// settle runs before the clock moves: it waits for the delivery
	// invocations under way (devserver.Server.DeliveriesIdle says why).
	settle func()
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	if c.settle != nil {
		c.settle()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

type env struct {
	t     testing.TB
	srv   *devserver.Server
	clock *clock
	probe *sdkprobe.Probe
}

// start runs a local server on a backend (memory, embedded or moto).
func start(t testing.TB, be testenv.Backend, opts ...func(*devserver.Options)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e := &env{t: t, clock: &clock{}, probe: &sdkprobe.Probe{}}
	c := testenv.Config(be)
	c.Now = e.clock.Now
	c.WebhookTimeout = webhookTimeout
	c.ConfigHooks = append(c.ConfigHooks, e.probe.Install)
	// every handler response must match the OpenAPI document
	o := devserver.Options{Config: c, Observe: openapitest.New(t).Observe}
	for _, f := range opts {
		f(&o)
	}
	run := devserver.Start
	if be.InMemory() {
		run = devserver.StartMemory
	}
	srv, err := run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.clock.settle = func() {
		if !srv.DeliveriesIdle(30 * time.Second) {
			t.Errorf("a delivery invocation still ran 30 s later when the clock moved")
		}
	}
	// a call outside a function's IAM policy fails the test that made it
	t.Cleanup(func() {
		if denied := srv.Denied(); len(denied) > 0 {
			t.Errorf("IAM refused %d AWS calls, first: %s", len(denied), denied[0])
		}
	})
	return e
}

// budgets sets the catalogue's per-page and per-call read budgets of the
// functions that list files.
func (e *env) budgets(budget, perCall int) {
	for _, fn := range []string{lambdas.Files, lambdas.Attachments} {
		e.srv.Function(fn).Catalog().Budget, e.srv.Function(fn).Catalog().PerCall = budget, perCall
	}
}

func (e *env) account(quota int64, domain string, scopes ...string) *client {
	e.t.Helper()
	var sc []auth.Scope
	for _, s := range scopes {
		sc = append(sc, auth.Scope(s))
	}
	acct, tok, err := e.srv.NewAccount(context.Background(), "Integração CRM", quota, domain, sc...)
	if err != nil {
		e.t.Fatal(err)
	}
	return &client{t: e.t, base: e.srv.URL, token: tok, account: acct}
}

type client struct {
	t       testing.TB
	base    string
	token   string
	account string
	origin  string
	headers map[string]string // sent on every request
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// do sends a request; body may be a string (sent raw) or a value (JSON).
func (c *client) do(method, path string, body any) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.origin != "" {
		req.Header.Set("Origin", c.origin)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func (c *client) expect(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.Status != want {
		c.t.Fatalf("%s %s: %s, want %d", method, path, r, want)
	}
	return r.JSON()
}

type part struct {
	Number  int
	Size    int64
	URL     string
	Headers map[string]string
}

func partsOf(m map[string]any) []part {
	var out []part
	raw, _ := m["parts"].([]any)
	for _, x := range raw {
		p := x.(map[string]any)
		h := map[string]string{}
		for k, v := range p["headers"].(map[string]any) {
			h[k] = v.(string)
		}
		out = append(out, part{Number: int(p["part_number"].(float64)), Size: int64(p["size"].(float64)), URL: p["url"].(string), Headers: h})
	}
	return out
}

// open opens a session for data.
func (c *client) open(name string, size int, extra map[string]any) map[string]any {
	c.t.Helper()
	body := map[string]any{"file_name": name, "file_size": size}
	for k, v := range extra {
		body[k] = v
	}
	return c.expect(201, "POST", "/v1/sessions", body)
}

// partURLs asks for presigned URLs.
func (c *client) partURLs(id string, numbers ...int) []part {
	c.t.Helper()
	return partsOf(c.expect(200, "POST", "/v1/sessions/"+id+"/parts", map[string]any{"part_numbers": numbers}))
}

// putParts uploads the given parts of data concurrently.
func (c *client) putParts(data []byte, partSize int64, parts []part) {
	c.t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(parts))
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(p.Number-1) * partSize
			status, _, err := presigned.Put(context.Background(), p.URL, p.Headers, data[off:off+p.Size])
			if err == nil && status != 200 {
				err = fmt.Errorf("part %d: status %d", p.Number, status)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			c.t.Fatal(err)
		}
	}
}

// upload runs a whole session and returns the file JSON.
func (c *client) upload(name string, data []byte, extra map[string]any) map[string]any {
	c.t.Helper()
	s := c.open(name, len(data), extra)
	id := s["id"].(string)
	ps := int64(s["part_size"].(float64))
	n := int(s["part_count"].(float64))
	parts := partsOf(s)
	if len(parts) == 0 && n > 0 {
		parts = c.partURLs(id, seq(1, n)...)
	}
	c.putParts(data, ps, parts)
	return c.expect(200, "POST", "/v1/sessions/"+id+"/complete", nil)
}

// download fetches a file's bytes through the API's 302.
func (c *client) download(uuid, query string) ([]byte, http.Header) {
	c.t.Helper()
	r := c.do("GET", "/v1/files/"+uuid+"/download"+query, nil)
	if r.Status != http.StatusFound {
		c.t.Fatalf("download: %s", r)
	}
	status, h, body, err := presigned.Get(context.Background(), r.Header.Get("Location"))
	if err != nil || status != 200 {
		c.t.Fatalf("GET presigned: %d %v", status, err)
	}
	return body, h
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func sum(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }
