// Package httpapi is the HTTP API: the route table (each route declared
// once, with its method, path, scope, function and handler, in the file of
// its feature: sessions, uppy, files, entities, onlyoffice, wegly, tokens,
// events, webhooks) and the translation of API Gateway v2 (payload 2.0) events to domain calls
// and back — strict JSON decoding, the principal from the authorizer's
// context, and the one mapping from errors to problem+json responses.
package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/keyring"
)

// Request is an API Gateway v2 HTTP request.
type Request = events.APIGatewayV2HTTPRequest

// Response is an API Gateway v2 HTTP response.
type Response = events.APIGatewayV2HTTPResponse

// Handler is a Lambda handler for HTTP API events.
type Handler func(ctx context.Context, req Request) (Response, error)

// Endpoint is one route's logic for an authenticated caller; errors are
// mapped by Serve.
type Endpoint func(ctx context.Context, req Request, p auth.Principal) (Response, error)

// MaxJSONBody bounds JSON request bodies.
const MaxJSONBody = 1 << 20

// Envelope renders the problem document of an error for routes whose
// clients read another error shape (ONLYOFFICE's result envelope).
type Envelope func(status int, problem map[string]any) Response

// Serve builds the Lambda handler of function fn from the features it
// serves: of their routes, those of fn. Every route passes through here:
// the principal from the authorizer's context, the route's scope and
// allowed_domain are checked before any handler runs, and request-id
// logging, panic recovery and the mapping of errors to responses happen
// here alone. (The services check again what only they can: a token's
// current secret for the routes that manage something, the scopes a
// minted token may have.)
func Serve(log *slog.Logger, fn string, features ...Feature) Handler {
	routes := map[string]Route{}
	for _, f := range features {
		for _, r := range f.Routes() {
			if r.Function == fn {
				routes[r.Key()] = r
			}
		}
	}
	if len(routes) == 0 {
		panic("httpapi: no route of function " + fn + " among its features")
	}
	log = log.With("function", fn)
	problem := func(err error, rid string, route Route) Response {
		if route.Envelope != nil {
			return route.Envelope(Status(err), ProblemDoc(err, rid))
		}
		return problemJSON(err, rid)
	}
	return func(ctx context.Context, req Request) (resp Response, err error) {
		defer func() { resp = secured(resp) }()
		ctx = keyring.PerRequest(ctx) // signing keys: read once a request, never older
		rid := req.RequestContext.RequestID
		l := log.With("request_id", rid, "route", req.RouteKey)
		route, ok := routes[req.RouteKey]
		defer func() {
			if r := recover(); r != nil {
				l.ErrorContext(ctx, "panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				resp, err = problem(apperr.New(apperr.KindInternal, "internal", "internal error"), rid, route), nil
			}
		}()
		if !ok {
			return problem(apperr.New(apperr.KindNotFound, "route_not_found", "no route "+req.RouteKey), rid, route), nil
		}
		var p auth.Principal
		if !route.Public {
			if p, err = Principal(req); err == nil {
				err = p.Require(route.Scope)
			}
		}
		if err == nil {
			resp, err = route.Handle(ctx, req, p)
		}
		if err != nil {
			resp = problem(err, rid, route)
			if resp.StatusCode >= 500 {
				l.ErrorContext(ctx, "request failed", "status", resp.StatusCode, "err", err)
			} else {
				l.InfoContext(ctx, "request rejected", "status", resp.StatusCode, "err", err)
			}
			return resp, nil
		}
		l.InfoContext(ctx, "request", "status", resp.StatusCode)
		return resp, nil
	}
}

// secured adds the headers every API answer carries: no MIME sniffing, and
// no caching of tenant data by shared caches unless a route chose a policy.
func secured(r Response) Response {
	h := make(map[string]string, len(r.Headers)+2)
	for k, v := range r.Headers {
		h[k] = v
	}
	h["X-Content-Type-Options"] = "nosniff"
	if _, ok := h["Cache-Control"]; !ok {
		h["Cache-Control"] = "no-store"
	}
	r.Headers = h
	return r
}

var statusOf = map[apperr.Kind]int{
	apperr.KindInvalid:       http.StatusBadRequest,
	apperr.KindUnauthorized:  http.StatusUnauthorized,
	apperr.KindForbidden:     http.StatusForbidden,
	apperr.KindNotFound:      http.StatusNotFound,
	apperr.KindConflict:      http.StatusConflict,
	apperr.KindGone:          http.StatusGone,
	apperr.KindTooLarge:      http.StatusRequestEntityTooLarge,
	apperr.KindUnprocessable: http.StatusUnprocessableEntity,
	apperr.KindQuota:         http.StatusInsufficientStorage,
	apperr.KindUnavailable:   http.StatusServiceUnavailable,
	apperr.KindTooMany:       http.StatusTooManyRequests,
}

// Status is the HTTP status for an error.
func Status(err error) int {
	if s, ok := statusOf[apperr.KindOf(throttled(err))]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ProblemDoc is the RFC 9457 problem document of an error.
func ProblemDoc(err error, requestID string) map[string]any {
	err = throttled(err)
	status := Status(err)
	doc := map[string]any{"status": status, "title": http.StatusText(status), "request_id": requestID}
	if e, ok := apperr.As(err); ok && e.Kind != apperr.KindInternal {
		doc["type"] = "https://anexo.dev/problems/" + e.Code
		doc["code"] = e.Code
		doc["detail"] = e.Detail
		if len(e.Fields) > 0 {
			doc["errors"] = e.Fields
			doc["field"] = e.Fields[0].Field
		}
		for k, v := range e.Extra {
			doc[k] = v
		}
	} else {
		doc["type"] = "about:blank"
		doc["code"] = "internal"
		doc["detail"] = "the request failed on the server; retry, or report the request_id"
	}
	return doc
}

// problemJSON renders an error as an application/problem+json response
// (with Retry-After when the problem names a wait).
func problemJSON(err error, requestID string) Response {
	doc := ProblemDoc(err, requestID)
	body, _ := json.Marshal(doc)
	h := map[string]string{"Content-Type": "application/problem+json"}
	if s, ok := doc["retry_after_seconds"].(int); ok {
		h["Retry-After"] = strconv.Itoa(s)
	}
	return Response{StatusCode: Status(err), Headers: h, Body: string(body)}
}

// throttlingCodes are the AWS error codes of a request refused for its
// rate: a DynamoDB key or table past its throughput, S3's SlowDown.
var throttlingCodes = map[string]bool{"ThrottlingException": true, "ProvisionedThroughputExceededException": true,
	"RequestLimitExceeded": true, "TransactionConflictException": true, "SlowDown": true}

// throttled turns an unexplained failure that is the store refusing a rate
// (after the SDK's own retries) into a 503 the client retries after a
// moment, instead of a 500.
func throttled(err error) error {
	if apperr.KindOf(err) != apperr.KindInternal {
		return err
	}
	var coded interface{ ErrorCode() string }
	if errors.Is(err, apperr.ErrThrottled) || errors.As(err, &coded) && throttlingCodes[coded.ErrorCode()] {
		return apperr.New(apperr.KindUnavailable, "throttled", "storage is refusing writes this fast right now; retry after a moment").
			With("retry_after_seconds", 1)
	}
	return err
}

// JSON renders a JSON body.
func JSON(status int, v any) (Response, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return Response{}, err
	}
	return Response{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body)}, nil
}

// NoContent is a 204.
func NoContent() (Response, error) { return Response{StatusCode: http.StatusNoContent}, nil }

// Redirect is a 302 to url.
func Redirect(url string) (Response, error) {
	return Response{StatusCode: http.StatusFound, Headers: map[string]string{"Location": url, "Cache-Control": "no-store"}}, nil
}

// Body returns the raw request body.
func Body(req Request) ([]byte, error) {
	if !req.IsBase64Encoded {
		return []byte(req.Body), nil
	}
	b, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, apperr.Invalid("body", "is not valid base64")
	}
	return b, nil
}

// Header reads a header case-insensitively (API Gateway lower-cases them).
func Header(req Request, name string) string {
	if v, ok := req.Headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// DecodeJSON strictly decodes a JSON object body into v: content type,
// size, unknown fields, wrong types and trailing data are all errors that
// name the offending field.
func DecodeJSON(req Request, v any) error {
	if ct := Header(req, "Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return apperr.New(apperr.KindInvalid, "unsupported_media_type", "send the body as application/json").With("field", "Content-Type")
		}
	}
	b, err := Body(req)
	if err != nil {
		return err
	}
	if len(b) > MaxJSONBody {
		return apperr.New(apperr.KindTooLarge, "body_too_large", "JSON bodies are limited to "+strconv.Itoa(MaxJSONBody)+" bytes")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return apperr.Invalid("body", "a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			if path := unknownField(b, reflect.TypeOf(v)); path != "" {
				return apperr.Invalid(path, "unknown field")
			}
		}
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return apperr.Invalid("body", "must hold exactly one JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return apperr.Invalid("body", fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se))
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return apperr.Invalid(field, "must be "+jsonType(te.Type.Kind().String())+", not "+te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Invalid("body", "malformed JSON: unexpected end of input")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ := strconv.Unquote(f)
		return apperr.Invalid(name, "unknown field")
	}
	return apperr.Invalid("body", "malformed JSON: "+err.Error())
}

func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "a boolean"
	case kind == "slice", kind == "array":
		return "an array"
	}
	return "an object"
}

// Principal returns the authenticated caller, enforcing the token's
// allowed_domain against Origin/Referer.
func Principal(req Request) (auth.Principal, error) {
	var ctxMap map[string]any
	if a := req.RequestContext.Authorizer; a != nil {
		ctxMap = a.Lambda
	}
	p, err := auth.FromContext(ctxMap)
	if err != nil {
		return p, err
	}
	return p, p.CheckOrigin(Header(req, "Origin"), Header(req, "Referer"))
}

// BaseURL is the API's origin as the client reached it (API Gateway's
// domain and X-Forwarded-Proto), for absolute links in answers.
func BaseURL(req Request) string {
	proto := "https" // API Gateway's; local mode sets http
	if Header(req, "X-Forwarded-Proto") == "http" {
		proto = "http"
	}
	host := req.RequestContext.DomainName
	if host == "" {
		host = Header(req, "Host")
	}
	return proto + "://" + host
}

// PathParam reads a path parameter.
func PathParam(req Request, name string) string { return req.PathParameters[name] }

// unknownField finds the path ("checksum.x", "parts[2].foo") of the first
// key in raw that type t does not declare, mirroring encoding/json's
// case-insensitive field matching.
func unknownField(raw []byte, t reflect.Type) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return walkUnknown(v, t, "")
}

func walkUnknown(v any, t reflect.Type, prefix string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := v.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Map:
			for k, val := range x {
				if p := walkUnknown(val, t.Elem(), join(prefix, k)); p != "" {
					return p
				}
			}
		case reflect.Struct:
			for k, val := range x {
				f, ok := fieldByJSONName(t, k)
				if !ok {
					return join(prefix, k)
				}
				if p := walkUnknown(val, f.Type, join(prefix, k)); p != "" {
					return p
				}
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, val := range x {
				if p := walkUnknown(val, t.Elem(), prefix+"["+strconv.Itoa(i)+"]"); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if strings.EqualFold(tag, name) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
