package local

import (
	"github.com/aws/aws-lambda-go/events"

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
}

// Server is a running local Anexo.
type Server struct {
	URL  string
	Deps *app.Deps
	srv  *http.Server
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
	fns := map[string]api.Handler{}
	for _, fn := range routes.Functions() {
		if fn != routes.FnAuthorizer {
			fns[fn] = d.Handler(fn)
		}
	}
	rt := &Router{Routes: routes.All, Functions: fns, Authorizer: d.Authorizer(), Log: d.Log, Now: d.Cfg.Now, Observe: o.Observe}
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), Deps: d,
		srv: &http.Server{Handler: rt, ReadHeaderTimeout: 10 * time.Second}}
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
			if err := s.Deps.Sweeper()(ctx, events.EventBridgeEvent{ID: "local-sweep"}); err != nil && ctx.Err() == nil {
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
