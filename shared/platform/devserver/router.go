package devserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/anexo/anexo/shared/base/readbody"
	"github.com/anexo/anexo/shared/inbound/authorizer"
	"github.com/anexo/anexo/shared/inbound/httpapi"
)

// MaxPayload is Lambda's synchronous invocation limit; API Gateway refuses
// larger requests before they reach a function.
const MaxPayload = 6 << 20

// Router serves the route table (shared/inbound/httpapi) like API Gateway HTTP API
// (payload 2.0): it matches the route, runs the Lambda authorizer (identity
// source $request.header.Authorization, and the edge's origin header when
// the stack has an edge; simple responses), passes the authorizer's
// context on, and invokes the route's function handler.
type Router struct {
	Routes     []httpapi.Route
	Functions  map[string]httpapi.Handler
	Authorizer authorizer.Handler
	Log        *slog.Logger
	Now        func() time.Time
	Extra      http.Handler // served when no API route matches (nil: 404)
	// Observe, when set, sees every function response.
	Observe func(r *http.Request, resp events.APIGatewayV2HTTPResponse)
	// AuthorizerCache, when positive, caches authorizer answers per
	// Authorization header that long, as API Gateway does (the stack sets
	// 60 s). Off by default so a revoked token fails at once locally.
	AuthorizerCache time.Duration
	// Throttles, per function, bound each of its routes as the stage's
	// route settings do (a token bucket per route; past it, 429 before the
	// authorizer runs). Nil: no throttling.
	Throttles map[string]httpapi.Throttle
	// CORS, when set, answers preflights and decorates answers to the
	// origins it allows, as the stack's CorsPreflight does.
	CORS *CORS
	// Identity is the authorizer's identity sources, headers a request
	// without any of is answered 401 by the gateway itself (nil:
	// Authorization).
	Identity []string
	// Hosts are the names (host:port) this server answers to, the first
	// its own: a request's Host is passed on only when it is one of them,
	// else the first stands in (API Gateway passes its own domain name,
	// never what a client claims). Empty: the request's Host.
	Hosts []string

	authMu  sync.Mutex
	authHit map[string]cachedAuth

	throttleMu sync.Mutex
	buckets    map[string]*bucket // by route key
}

// bucket is a route's token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

// admit takes a token from the route's bucket, refilled at its rate up
// to its burst (on the wall clock: tests move their own clock).
func (rt *Router) admit(route httpapi.Route) bool {
	t, ok := rt.Throttles[route.Function]
	if !ok {
		return true
	}
	rt.throttleMu.Lock()
	defer rt.throttleMu.Unlock()
	now := time.Now()
	b := rt.buckets[route.Key()]
	if b == nil {
		if rt.buckets == nil {
			rt.buckets = map[string]*bucket{}
		}
		b = &bucket{tokens: t.Burst, last: now}
		rt.buckets[route.Key()] = b
	}
	b.tokens, b.last = min(t.Burst, b.tokens+now.Sub(b.last).Seconds()*t.Rate), now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

type cachedAuth struct {
	res   events.APIGatewayV2CustomAuthorizerSimpleResponse
	until time.Time
}

// authorize runs the authorizer, or answers from the cache.
func (rt *Router) authorize(ctx context.Context, authz string, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	if rt.AuthorizerCache <= 0 {
		return rt.Authorizer(ctx, req)
	}
	now := time.Now()
	rt.authMu.Lock()
	c, ok := rt.authHit[authz]
	rt.authMu.Unlock()
	if ok && now.Before(c.until) {
		return c.res, nil
	}
	res, err := rt.Authorizer(ctx, req)
	if err == nil {
		rt.authMu.Lock()
		if rt.authHit == nil {
			rt.authHit = map[string]cachedAuth{}
		}
		rt.authHit[authz] = cachedAuth{res: res, until: now.Add(rt.AuthorizerCache)}
		rt.authMu.Unlock()
	}
	return res, err
}

func gatewayError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// ServeHTTP implements http.Handler.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, params, ok := rt.match(r.Method, r.URL.Path)
	if rt.CORS != nil {
		// API Gateway answers a preflight of any path itself
		if rt.CORS.preflight(w, r) {
			return
		}
		if ok {
			rt.CORS.decorate(w, r)
		}
	}
	if !ok {
		if rt.Extra != nil {
			rt.Extra.ServeHTTP(w, r)
			return
		}
		gatewayError(w, http.StatusNotFound, "Not Found")
		return
	}
	ev, err := rt.event(r, route, params)
	if err != nil {
		gatewayError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	w.Header().Set("Apigw-Requestid", ev.RequestContext.RequestID)
	if !rt.admit(route) {
		gatewayError(w, http.StatusTooManyRequests, "Too Many Requests")
		return
	}
	// A Lambda invocation runs to its end when the client goes away.
	ctx := context.WithoutCancel(r.Context())
	if !route.Public {
		identity := rt.Identity
		if identity == nil {
			identity = []string{"Authorization"}
		}
		var sources []string
		for _, h := range identity {
			v := r.Header.Get(h)
			if v == "" { // an identity source missing: API Gateway answers itself
				gatewayError(w, http.StatusUnauthorized, "Unauthorized")
				return
			}
			sources = append(sources, v)
		}
		res, err := rt.authorize(ctx, strings.Join(sources, ","), events.APIGatewayV2CustomAuthorizerV2Request{Version: "2.0", Type: "REQUEST",
			RouteArn:       "arn:aws:execute-api:local:000000000000:local/$default/" + route.Method + route.Path,
			IdentitySource: sources, RouteKey: ev.RouteKey, RawPath: ev.RawPath, RawQueryString: ev.RawQueryString,
			Cookies: ev.Cookies, Headers: ev.Headers, QueryStringParameters: ev.QueryStringParameters,
			RequestContext: ev.RequestContext, PathParameters: ev.PathParameters})
		if err != nil {
			rt.Log.ErrorContext(ctx, "authorizer error", "err", err)
			gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		if !res.IsAuthorized {
			gatewayError(w, http.StatusForbidden, "Forbidden")
			return
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: roundTrip(res.Context)}
	}
	resp, err := rt.Functions[route.Function](ctx, ev)
	if err != nil {
		rt.Log.ErrorContext(ctx, "function error", "function", route.Function, "err", err)
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	if rt.Observe != nil {
		rt.Observe(r, resp)
	}
	writeResponse(w, resp)
}

// roundTrip passes the context through JSON, as it crosses the wire in AWS.
func roundTrip(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func (rt *Router) match(method, path string) (httpapi.Route, map[string]string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, r := range rt.Routes {
		if r.Method != method {
			continue
		}
		tpl := strings.Split(strings.Trim(r.Path, "/"), "/")
		if len(tpl) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i, t := range tpl {
			if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
				v, err := url.PathUnescape(segs[i])
				if err != nil || v == "" {
					ok = false
					break
				}
				params[t[1:len(t)-1]] = v
			} else if t != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return r, params, true
		}
	}
	return httpapi.Route{}, nil, false
}

func requestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// textual reports whether API Gateway would pass a body as text.
func textual(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		mt == "application/xml" || strings.HasSuffix(mt, "+xml") || mt == "application/x-www-form-urlencoded" ||
		mt == "application/javascript"
}

func (rt *Router) event(r *http.Request, route httpapi.Route, params map[string]string) (events.APIGatewayV2HTTPRequest, error) {
	body, err := readbody.All(io.LimitReader(r.Body, MaxPayload+1), min(r.ContentLength, MaxPayload+1))
	if err != nil {
		return events.APIGatewayV2HTTPRequest{}, err
	}
	if len(body) > MaxPayload {
		return events.APIGatewayV2HTTPRequest{}, io.ErrShortBuffer
	}
	now := time.Now
	if rt.Now != nil {
		now = rt.Now
	}
	t := now().UTC()
	headers := map[string]string{}
	for k, vs := range r.Header {
		if strings.EqualFold(k, "Cookie") {
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	host := r.Host
	if len(rt.Hosts) > 0 && !slices.Contains(rt.Hosts, strings.ToLower(host)) {
		host = rt.Hosts[0]
	}
	headers["host"] = host
	headers["x-forwarded-proto"] = "http" // what this server speaks, whatever a client sent (API Gateway sets https)
	var query map[string]string
	if r.URL.RawQuery != "" {
		query = map[string]string{}
		for k, vs := range r.URL.Query() {
			query[k] = strings.Join(vs, ",")
		}
	}
	var cookies []string
	for _, c := range r.Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: route.Key(), RawPath: r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery, Cookies: cookies, Headers: headers, QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RouteKey: route.Key(), AccountID: "000000000000",
			Stage: "$default", RequestID: requestID(), APIID: "local", DomainName: host, DomainPrefix: strings.Split(host, ".")[0],
			Time: t.Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: t.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path,
				Protocol: r.Proto, SourceIP: ip, UserAgent: r.UserAgent()}}}
	if len(params) > 0 {
		ev.PathParameters = params
	}
	if len(body) > 0 {
		if textual(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	// Lambda's limit applies to the event as sent (a binary body grows by
	// a third in base64, which JSON carries unescaped: measured without it).
	measured, extra := ev, 0
	if ev.IsBase64Encoded {
		measured.Body, extra = "", len(ev.Body)
	}
	if b, _ := json.Marshal(measured); len(b)+extra > MaxPayload {
		return events.APIGatewayV2HTTPRequest{}, io.ErrShortBuffer
	}
	return ev, nil
}

func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	if w.Header().Get("Content-Type") == "" && len(body) > 0 {
		w.Header().Set("Content-Type", "application/json")
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
