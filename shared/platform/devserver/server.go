package devserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/inbound/httpapi"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/platform/awsconfig"
	"github.com/anexo/anexo/shared/platform/devserver/web"
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
	// NoThrottle turns off the routes' throttles (httpapi.Throttles),
	// which the router otherwise enforces as API Gateway does.
	NoThrottle bool
	// CORSOrigins are web origins besides the server's own whose pages may
	// upload straight to the bucket (ANEXO_CORS_ORIGINS in make run).
	CORSOrigins []string
	// Console is the directory of the built files console, served at /
	// (make run: clients/console/dist; empty: a page saying how to build it).
	Console string
	// ScanDelay is how long the malware scanner's stand-in takes to report
	// a new object (with Config.MalwareScanning, on the embedded S3).
	ScanDelay time.Duration
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
	// Messaging is the embedded SQS and EventBridge (nil when the
	// configuration names others).
	Messaging *Messaging
	// delivering counts the delivery function's invocations running.
	delivering atomic.Int64
}

// DeliveriesIdle waits up to timeout until no invocation of the delivery
// function runs; false if one still does. Tests that move the clock call
// it first: on AWS an invocation ends within the function's timeout, long
// before its messages' visibility, so a message is never received again
// while its attempt runs — a clock moved by minutes mid-attempt would
// make that happen here.
func (s *Server) DeliveriesIdle(timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); s.delivering.Load() > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
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
		if d.Enforcer != nil {
			out = append(out, d.Enforcer.Denied()...)
		}
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
			c.S3Endpoint = u
			c.AccessKey, c.SecretKey = S3Credentials()
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
	if c.BusName == "" {
		c.BusName = c.Table
	}
	var msg *Messaging
	if !o.UseAWS && c.SQSEndpoint == "" {
		// SQS and EventBridge: embedded, on the server's clock
		var err error
		if msg, err = StartMessaging(c.Now); err != nil {
			return nil, fmt.Errorf("embedded sqs and eventbridge: %w", err)
		}
		context.AfterFunc(ctx, func() { _ = msg.Close() })
		c.SQSEndpoint, c.EventsEndpoint = msg.URL, msg.URL
		if c.MalwareScanning { // the stand-in takes on-demand scans too
			c.GuardDutyEndpoint = msg.URL
		}
	}
	// webhooks to receivers on this machine (local mode only)
	c.LoopbackWebhooks = !o.UseAWS
	// S3 events are local mode's to send only on its own S3 (moto sends
	// none, and its DynamoDB transactions are not atomic under concurrency:
	// a recorder racing a status call there can lose a committed write).
	watchPosts := !o.UseAWS && isEmbeddedS3(c.S3Endpoint)
	d, err := awsconfig.App(ctx, c)
	if err != nil {
		return nil, err
	}
	ln, err := listen(o.Addr)
	if err != nil {
		return nil, err
	}
	served := false
	defer func() {
		if !served {
			_ = ln.Close()
		}
	}()
	s := &Server{URL: "http://" + ln.Addr().String()}
	c.RequestPage = requestPage(c, s.URL)
	if !o.UseAWS {
		// the bucket's CORS admits the pages the API does, nothing else
		if err := d.Provision(ctx, s.pageOrigins(o, ln)...); err != nil {
			return nil, err
		}
		c.QueueURL, c.DeadLetterURL = d.Cfg.QueueURL, d.Cfg.DeadLetterURL
	}
	s.Deps, s.fns, s.Messaging = d, map[string]*app.Deps{}, msg
	for _, fn := range lambdas.All() {
		fc := c
		fc.Function, fc.EnforcePolicy = fn, true
		if s.fns[fn], err = awsconfig.App(ctx, fc); err != nil {
			return nil, err
		}
	}
	rt := s.router(o, ln)
	posts := &postWatch{s3: d, recorder: s.fns[lambdas.Recorder], keys: map[string]*watched{}}
	if c.MalwareScanning && !o.UseAWS {
		if msg == nil {
			return nil, errors.New("local: malware scanning's stand-in needs the embedded EventBridge")
		}
		sc := newScanner(ctx, d, app.Scans(s.fns[lambdas.Scans]), o.ScanDelay)
		msg.mu.Lock()
		msg.published, msg.scanRequested = append(msg.published, sc.published), sc.requested
		msg.mu.Unlock()
	}
	if msg != nil { // the stack's rule: the bus's version events to the previews function
		hear := busRule(ctx, d.Log, c.BusName, previewEvents, lambdas.Previews, app.Previews(s.fns[lambdas.Previews]))
		msg.mu.Lock()
		msg.published = append(msg.published, hear)
		msg.mu.Unlock()
	}
	rt.Observe = func(r *http.Request, resp events.APIGatewayV2HTTPResponse) {
		if watchPosts {
			posts.observe(resp)
		}
		if o.Observe != nil {
			o.Observe(r, resp)
		}
	}
	if watchPosts {
		go posts.run(ctx)
	}
	served = true
	s.serve(ctx, rt, ln, o.SweepEvery)
	// the outbox's stream to the dispatcher, the deliveries queue to the
	// delivery function: their event source mappings
	if st := StreamOf(c.DynamoEndpoint, c.Table); st != nil && !o.UseAWS {
		go consumeStream(ctx, st, s.Function(lambdas.Dispatcher))
	}
	if c.QueueURL != "" {
		go consumeQueue(ctx, s.Function(lambdas.Deliveries), 50*time.Millisecond, &s.delivering)
	}
	return s, nil
}

// StartMemory serves the API on the memory drivers (app.Memory) until ctx
// ends: the same router, authorizer, handlers and services as Start, each
// function its own process on shared drivers, with no emulator and no AWS
// client. The bucket is served on a listener of its own, for the
// presigned URLs. What needs AWS's own protocols stays with Start: the
// outbox's stream, the deliveries queue, S3's form upload notifications
// and IAM enforcement.
func StartMemory(ctx context.Context, o Options) (*Server, error) {
	c := o.Config
	c.LoopbackWebhooks = true // webhooks to receivers on this machine, as in local mode
	m := app.NewDrivers()
	ln, err := listen(o.Addr)
	if err != nil {
		return nil, err
	}
	blobs, err := listen("")
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	serveHTTP(ctx, blobs, m.Blobs)
	m.Blobs.Endpoint = "http://" + blobs.Addr().String()
	url := "http://" + ln.Addr().String()
	c.RequestPage = requestPage(c, url)
	s := &Server{URL: url, Deps: app.Memory(c, m), fns: map[string]*app.Deps{}}
	for _, fn := range lambdas.All() {
		fc := c
		fc.Function = fn
		s.fns[fn] = app.Memory(fc, m)
	}
	rt := s.router(o, ln)
	rt.Observe = o.Observe
	s.serve(ctx, rt, ln, o.SweepEvery)
	return s, nil
}

// requestPage is where file requests' links point: the configured page,
// else this server's (the console's request page).
func requestPage(c app.Config, url string) string {
	if c.RequestPage != "" {
		return c.RequestPage
	}
	return url + "/request.html"
}

// pageOrigins are the web origins whose pages may call the API and upload
// to the bucket: the server's own (by either loopback name) and the
// configured ones.
func (s *Server) pageOrigins(o Options, ln net.Listener) []string {
	return append([]string{s.URL, fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)}, o.CORSOrigins...)
}

// storageOrigins are where the console's pages send parts and load
// previews from: the emulator, or the buckets' regional endpoints.
func storageOrigins(c app.Config) []string {
	if c.S3Endpoint != "" {
		if u, err := url.Parse(c.S3Endpoint); err == nil {
			return []string{u.Scheme + "://" + u.Host}
		}
	}
	var out []string
	for _, b := range []string{c.Bucket, c.PreviewsBucket} {
		if b != "" {
			out = append(out, fmt.Sprintf("https://%s.s3.%s.amazonaws.com", b, c.Region))
		}
	}
	return out
}

// router is API Gateway over the server's functions, on listener ln.
func (s *Server) router(o Options, ln net.Listener) *Router {
	handlers := map[string]httpapi.Handler{}
	for _, fn := range lambdas.HTTP {
		if fn != lambdas.Authorizer {
			handlers[fn] = app.Handler(s.fns[fn], fn)
		}
	}
	rt := &Router{Routes: httpapi.All(), Functions: handlers, Authorizer: app.Authorizer(s.fns[lambdas.Authorizer]), Log: s.Deps.Log,
		Now: s.Deps.Cfg.Now, AuthorizerCache: o.AuthorizerCache,
		Hosts: []string{ln.Addr().String(), fmt.Sprintf("localhost:%d", ln.Addr().(*net.TCPAddr).Port)}}
	// the console at /, the Uppy page at /uppy/
	rt.Extra = web.Handler(o.Console, httpapi.ConsoleCSP("", storageOrigins(s.Deps.Cfg)...))
	// the pages that may upload to the bucket may call the API
	rt.CORS = &CORS{Policy: httpapi.CORS, Origins: s.pageOrigins(o, ln)}
	if !o.NoThrottle {
		rt.Throttles = httpapi.Throttles // the stage's route settings
	}
	if s.Deps.Cfg.OriginSecret != "" { // as the stack's edge sets the authorizer
		rt.Identity = []string{"Authorization", httpapi.OriginHeader}
	}
	return rt
}

// serve answers on ln with rt, and sweeps every so often, until ctx ends.
func (s *Server) serve(ctx context.Context, rt *Router, ln net.Listener, sweepEvery time.Duration) {
	s.srv = serveHTTP(ctx, ln, rt)
	go s.sweep(ctx, sweepEvery)
}

// listen listens on addr, or on a free loopback port when addr is empty.
func listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	return net.Listen("tcp", addr)
}

// serveHTTP answers on ln with h until ctx ends.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	return srv
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
			if err := app.Sweeper(s.Function(lambdas.Sweeper))(ctx, events.EventBridgeEvent{ID: "local-sweep"}); err != nil && ctx.Err() == nil {
				s.Deps.Log.Error("sweep failed", "err", err)
			}
		}
	}
}

// NewAccount creates an account and a token with the given scopes (all when
// none), returning the account id and the token secret.
func (s *Server) NewAccount(ctx context.Context, name string, quota int64, domain string, scopes ...auth.Scope) (string, string, error) {
	a, err := s.Deps.Auth().CreateAccount(ctx, name, quota)
	if err != nil {
		return "", "", err
	}
	if len(scopes) == 0 {
		scopes = auth.AllScopes
	}
	secret, _, err := s.Deps.Auth().CreateToken(ctx, a.ID, auth.NewToken{Name: name, Scopes: scopes, AllowedDomain: domain, CreatedBy: "local"})
	return a.ID, secret, err
}

// postWatch stands in for S3's ObjectCreated:Post notification, which
// invokes the recorder Lambda in AWS: the embedded S3's event webhook
// reports form uploads without their key, so local mode remembers the
// form uploads it signed and, while their POST policy is valid, reports
// every new version of their object (a replayed POST too), as S3 does.
type postWatch struct {
	s3       *app.Deps // S3's own view of the bucket
	recorder *app.Deps // the recorder function
	mu       sync.Mutex
	keys     map[string]*watched
}

type watched struct {
	until, next time.Time
	reported    map[string]bool // version ids
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
	w.keys[p.Fields["key"]] = &watched{until: time.Now().Add(upload.PostPolicyTTL + time.Minute), reported: map[string]bool{}}
	w.mu.Unlock()
}

func (w *postWatch) run(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	record := app.Recorder(w.recorder)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		w.mu.Lock()
		var due []string
		for k, v := range w.keys {
			if now.After(v.until) {
				delete(w.keys, k)
			} else if !now.Before(v.next) {
				due = append(due, k)
			}
		}
		w.mu.Unlock()
		for _, key := range due {
			w.report(ctx, key, record)
		}
	}
}

// report sends the recorder an event for each version of key not reported
// yet, oldest first; after one, the key is looked at every second.
func (w *postWatch) report(ctx context.Context, key string, record func(context.Context, events.S3Event) error) {
	out, err := w.s3.S3().ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &w.s3.Cfg.Bucket, Prefix: &key})
	if err != nil {
		return
	}
	w.mu.Lock()
	k := w.keys[key]
	w.mu.Unlock()
	if k == nil {
		return
	}
	for i := len(out.Versions) - 1; i >= 0; i-- {
		v := out.Versions[i]
		id := aws.ToString(v.VersionId)
		if aws.ToString(v.Key) != key || k.reported[id] {
			continue
		}
		ev := events.S3Event{Records: []events.S3EventRecord{{EventName: "ObjectCreated:Post", EventSource: "aws:s3",
			S3: events.S3Entity{Bucket: events.S3Bucket{Name: w.s3.Cfg.Bucket}, Object: events.S3Object{Key: key, URLDecodedKey: key, VersionID: id}}}}}
		if record(ctx, ev) != nil {
			return // retried on the next tick
		}
		w.mu.Lock()
		k.reported[id], k.next = true, time.Now().Add(time.Second)
		w.mu.Unlock()
	}
}
