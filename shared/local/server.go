package local

import (
	"encoding/json"
	"github.com/aws/aws-lambda-go/events"
	"strings"
	"sync"

	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/anexo/anexo/shared/api"
	"github.com/anexo/anexo/shared/app"
	"github.com/anexo/anexo/shared/auth"
	"github.com/anexo/anexo/shared/routes"
	"github.com/anexo/anexo/shared/web"
)

// Options configure a local server. Empty endpoints start the embedded
// emulators; set them to use moto_server or (empty + real credentials via
// UseAWS) AWS itself.
type Options struct {
	Addr    string // default 127.0.0.1:0
	DataDir string // embedded S3 root (required when S3 is embedded)
	UseAWS  bool   // no emulators: the SDK's default endpoints and credentials
	Config  app.Config
	// SweepEvery runs the trash sweeper periodically (0: never; make run
	// uses a minute).
	SweepEvery time.Duration
	// Observe sees every function response with its request (tests
	// validate them against the OpenAPI document).
	Observe func(r *http.Request, resp events.APIGatewayV2HTTPResponse)
	// AuthorizerCache caches authorizer answers per token like API
	// Gateway (benchmarks set the stack's 60 s; 0: every request).
	AuthorizerCache time.Duration
}

// Server is a running local Anexo.
type Server struct {
	URL string
	// Deps act as an operator with full access (provisioning, and tests
	// that seed or inspect storage directly).
	Deps *app.Deps
	// fns are each function's own process, as in Lambda: its own clients
	// and caches, every AWS call checked against its IAM policy.
	fns map[string]*app.Deps
	srv *http.Server
}

// Function returns the dependencies of one function's process.
func (s *Server) Function(name string) *app.Deps {
	d, ok := s.fns[name]
	if !ok {
		panic("local: unknown function " + name)
	}
	return d
}

// Denied lists the AWS calls the functions' IAM policies refused.
func (s *Server) Denied() []string {
	var out []string
	for _, d := range s.fns {
		out = append(out, d.Enforcer.Denied()...)
	}
	return out
}

// Start provisions storage and serves the API until ctx ends.
func Start(ctx context.Context, o Options) (*Server, error) {
	c := o.Config
	if !o.UseAWS {
		if c.DynamoEndpoint == "" {
			u, err := StartDynamo(ctx)
			if err != nil {
				return nil, fmt.Errorf("embedded dynamodb: %w", err)
			}
			c.DynamoEndpoint = u
		}
		if c.S3Endpoint == "" {
			if o.DataDir == "" {
				return nil, errors.New("local: DataDir is required for the embedded S3")
			}
			u, err := StartS3(o.DataDir)
			if err != nil {
				return nil, fmt.Errorf("embedded s3: %w", err)
			}
			c.S3Endpoint, c.AccessKey, c.SecretKey = u, S3AccessKey, S3SecretKey
		}
		if c.AccessKey == "" {
			c.AccessKey, c.SecretKey = "test", "test"
		}
	}
	if c.Table == "" {
		c.Table = "anexo"
	}
	if c.Bucket == "" {
		c.Bucket = "anexo-files"
	}
	d, err := app.Connect(ctx, c)
	if err != nil {
		return nil, err
	}
	if !o.UseAWS {
		if err := d.Provision(ctx); err != nil {
			return nil, err
		}
	}
	s := &Server{Deps: d, fns: map[string]*app.Deps{}}
	for _, fn := range append(routes.Functions(), routes.Background...) {
		fc := c
		fc.Function, fc.EnforcePolicy = fn, true
		if s.fns[fn], err = app.Connect(ctx, fc); err != nil {
			return nil, err
		}
	}
	handlers := map[string]api.Handler{}
	for _, fn := range routes.Functions() {
		if fn != routes.FnAuthorizer {
			handlers[fn] = s.fns[fn].Handler(fn)
		}
	}
	rt := &Router{Routes: routes.All, Functions: handlers, Authorizer: s.fns[routes.FnAuthorizer].Authorizer(), Log: d.Log, Now: d.Cfg.Now, AuthorizerCache: o.AuthorizerCache}
	rt.Extra = web.Handler() // the upload page at /
	posts := &postWatch{s3: d, recorder: s.fns[routes.FnRecorder], keys: map[string]time.Time{}}
	rt.Observe = func(r *http.Request, resp events.APIGatewayV2HTTPResponse) {
		posts.observe(resp)
		if o.Observe != nil {
			o.Observe(r, resp)
		}
	}
	go posts.run(ctx)
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: rt, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = s.srv.Close() })
	go s.sweep(ctx, o.SweepEvery)
	return s, nil
}

// sweep runs the scheduled purge of expired trash, as EventBridge does in AWS.
func (s *Server) sweep(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Function(routes.FnSweeper).Sweeper()(ctx, events.EventBridgeEvent{ID: "local-sweep"}); err != nil && ctx.Err() == nil {
				s.Deps.Log.Error("sweep failed", "err", err)
			}
		}
	}
}

// NewAccount creates an account and a token with the given scopes (all when
// none), returning the account id and the token secret.
func (s *Server) NewAccount(ctx context.Context, name string, quota int64, domain string, scopes ...auth.Scope) (string, string, error) {
	a, err := s.Deps.Auth.CreateAccount(ctx, name, quota)
	if err != nil {
		return "", "", err
	}
	if len(scopes) == 0 {
		scopes = auth.AllScopes
	}
	secret, _, err := s.Deps.Auth.CreateToken(ctx, a.ID, name, scopes, domain, 0)
	return a.ID, secret, err
}

// postWatch stands in for S3's ObjectCreated:Post notification, which
// invokes the recorder Lambda in AWS: the embedded S3's event webhook
// reports form uploads without their key, so local mode remembers the
// form uploads it signed and reports each one once its object exists.
type postWatch struct {
	s3       *app.Deps // S3's own view of the bucket
	recorder *app.Deps // the recorder function
	mu       sync.Mutex
	keys     map[string]time.Time // key → when to stop watching
}

// observe notes the key of every form upload the companion signs.
func (w *postWatch) observe(resp events.APIGatewayV2HTTPResponse) {
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"method":"POST"`) {
		return
	}
	var p struct {
		Method string            `json:"method"`
		Fields map[string]string `json:"fields"`
	}
	if json.Unmarshal([]byte(resp.Body), &p) != nil || p.Method != "POST" || p.Fields["key"] == "" {
		return
	}
	w.mu.Lock()
	w.keys[p.Fields["key"]] = time.Now().Add(20 * time.Minute)
	w.mu.Unlock()
}

func (w *postWatch) run(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	record := w.recorder.Recorder()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		keys := make(map[string]time.Time, len(w.keys))
		for k, v := range w.keys {
			keys[k] = v
		}
		w.mu.Unlock()
		for key, until := range keys {
			_, err := w.s3.Blobs.Head(ctx, key)
			done := time.Now().After(until)
			if err == nil {
				ev := events.S3Event{Records: []events.S3EventRecord{{EventName: "ObjectCreated:Post", EventSource: "aws:s3",
					S3: events.S3Entity{Bucket: events.S3Bucket{Name: w.s3.Cfg.Bucket}, Object: events.S3Object{Key: key, URLDecodedKey: key}}}}}
				done = record(ctx, ev) == nil
			}
			if done {
				w.mu.Lock()
				delete(w.keys, key)
				w.mu.Unlock()
			}
		}
	}
}
