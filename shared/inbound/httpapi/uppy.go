// Uppy's companion routes: the routes @uppy/aws-s3 (6.x) calls in
// companionEndpoint mode, mapped onto upload sessions. Uppy sends no
// Authorization header there, so the routes live under a short-lived,
// upload-only ticket in the path (POST /v1/upload-tickets mints one).

package httpapi

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/keyring"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// UppyPrefix is where the companion routes live; {ticket} is an upload ticket.
const UppyPrefix = "/v1/uppy/{ticket}/s3"

// LiveCheck fails unless the secret that minted a ticket still
// authenticates (auth.Service.CheckLive).
type LiveCheck func(ctx context.Context, accountID, tokenID, secret string) error

// Uppy serves Uppy's companion routes under upload tickets, and mints the
// tickets.
type Uppy struct {
	Svc     *upload.Service
	Tickets *keyring.Ring // seals and opens upload tickets
	Live    LiveCheck
	Current SecretCheck // minting a ticket takes the token's current secret
	Clock   clock.Func
}

// Routes implements Feature: minting a ticket needs a token; the
// companion routes are public in API Gateway (the ticket is the
// credential).
func (a *Uppy) Routes() []Route {
	companion := func(method, path string, h handler) Route {
		return Route{Method: method, Path: UppyPrefix + path, Function: lambdas.Companion, Public: true, Handle: a.withTicket(h)}
	}
	return []Route{
		{Method: "POST", Path: "/v1/upload-tickets", Function: lambdas.SessionsOpen, Scope: auth.ScopeWrite, Handle: currentOnly(a.Current, a.mint)},
		companion("GET", "/params", a.params),
		companion("POST", "/multipart", a.create),
		companion("GET", "/multipart/{uploadId}", a.list),
		companion("GET", "/multipart/{uploadId}/{partNumber}", a.sign),
		companion("POST", "/multipart/{uploadId}/complete", a.complete),
		companion("DELETE", "/multipart/{uploadId}", a.abort),
	}
}

// DefaultTicketTTL is a ticket's lifetime unless asked otherwise.
const DefaultTicketTTL = time.Hour

func (a *Uppy) mint(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	var b struct {
		TTLSeconds *int64 `json:"ttl_seconds"`
	}
	if req.Body != "" {
		if err := DecodeJSON(req, &b); err != nil {
			return Response{}, err
		}
	}
	ttl := DefaultTicketTTL
	if b.TTLSeconds != nil {
		if *b.TTLSeconds < 60 || *b.TTLSeconds > int64(auth.MaxTicketTTL/time.Second) {
			return Response{}, apperr.Invalid("ttl_seconds", "must be from 60 to "+strconv.Itoa(int(auth.MaxTicketTTL/time.Second)))
		}
		ttl = time.Duration(*b.TTLSeconds) * time.Second
	}
	t, exp, err := auth.MintTicket(ctx, a.Tickets, p, a.Clock.Now(), ttl)
	if err != nil {
		return Response{}, err
	}
	path := strings.Replace(strings.TrimSuffix(UppyPrefix, "/s3"), "{ticket}", t, 1)
	return JSON(http.StatusCreated, map[string]any{"ticket": t, "expires_at": exp.UTC(),
		"companion_endpoint": BaseURL(req) + path})
}

type handler func(ctx context.Context, req Request, p auth.Principal) (Response, error)

// withTicket authenticates by the ticket in the path (and the ticket's
// allowed_domain, when the minting token had one).
func (a *Uppy) withTicket(h handler) Endpoint {
	return func(ctx context.Context, req Request, _ auth.Principal) (Response, error) {
		p, err := auth.ParseTicket(ctx, a.Tickets, PathParam(req, "ticket"), a.Clock.Now())
		if err != nil {
			return Response{}, err
		}
		if err := p.CheckOrigin(Header(req, "Origin"), Header(req, "Referer")); err != nil {
			return Response{}, err
		}
		if err := a.Live(ctx, p.AccountID, p.TokenID, p.Secret); err != nil {
			return Response{}, err // the minting token or secret was revoked, rotated out or expired
		}
		return h(ctx, req, p)
	}
}

// size reads the file size Uppy passes as metadata (the page sets
// meta.size; Uppy sends every meta field).
func size(field, v string) (int64, error) {
	if v == "" {
		return 0, apperr.Invalid(field, "is required: add the file's size to Uppy's metadata (uppy.setFileMeta(id, {size: file.size}))")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, apperr.Invalid(field, "must be the file size in bytes")
	}
	return n, nil
}

// params answers GET /s3/params: a presigned POST policy (Uppy's path
// for files up to 100 MB).
func (a *Uppy) params(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	q, _ := url.ParseQuery(req.RawQueryString)
	n, err := size("metadata[size]", q.Get("metadata[size]"))
	if err != nil {
		return Response{}, err
	}
	out, err := a.Svc.Open(ctx, p, upload.OpenInput{FileName: q.Get("filename"), FileSize: n, ContentType: q.Get("type"), Post: true})
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, map[string]any{"method": "POST", "url": out.Post.URL, "fields": out.Post.Fields,
		"expires": int(a.Svc.Limits().PartURLTTL / time.Second)})
}

// create answers POST /s3/multipart: a session planned in Uppy's chunks.
func (a *Uppy) create(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	var b struct {
		Filename string         `json:"filename"`
		Type     string         `json:"type"`
		Metadata map[string]any `json:"metadata"`
	}
	if err := DecodeJSON(req, &b); err != nil {
		return Response{}, err
	}
	var raw string
	switch v := b.Metadata["size"].(type) {
	case string:
		raw = v
	case float64: // JSON has no integers: only a whole number in range is a size
		raw = strconv.FormatFloat(v, 'f', -1, 64)
		if v == math.Trunc(v) && v >= 0 && v <= 1<<53 {
			raw = strconv.FormatInt(int64(v), 10)
		}
	}
	n, err := size("metadata.size", raw)
	if err != nil {
		return Response{}, err
	}
	out, err := a.Svc.Open(ctx, p, upload.OpenInput{FileName: b.Filename, FileSize: n, ContentType: b.Type, PartSize: upload.UppyChunkSize(n)})
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, map[string]string{"uploadId": out.Session.ID, "key": out.Session.Key})
}

// session checks that the key Uppy passes is the session's.
func (a *Uppy) check(sess upload.Session, req Request) error {
	if k := req.QueryStringParameters["key"]; k != sess.Key {
		return apperr.Invalid("key", "does not belong to this upload")
	}
	return nil
}

func (a *Uppy) sign(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	n, err := strconv.Atoi(PathParam(req, "partNumber"))
	if err != nil {
		return Response{}, apperr.Invalid("partNumber", "must be a part number")
	}
	sess, urls, err := a.Svc.Parts(ctx, p, PathParam(req, "uploadId"), upload.PartsInput{PartNumbers: []int{n}})
	if err != nil {
		return Response{}, err
	}
	if err := a.check(sess, req); err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, map[string]any{"url": urls[0].Request.URL, "expires": int(time.Until(urls[0].ExpiresAt) / time.Second)})
}

type listedPart struct {
	PartNumber int32  `json:"PartNumber"`
	ETag       string `json:"ETag"`
	Size       int64  `json:"Size"`
}

func (a *Uppy) list(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	st, err := a.Svc.Status(ctx, p, PathParam(req, "uploadId"))
	if err != nil {
		return Response{}, err
	}
	if err := a.check(st.Session, req); err != nil {
		return Response{}, err
	}
	out := make([]listedPart, len(st.Parts))
	for i, pt := range st.Parts {
		out[i] = listedPart{PartNumber: pt.Number, ETag: pt.ETag, Size: pt.Size}
	}
	return JSON(http.StatusOK, out)
}

func (a *Uppy) complete(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	var b struct {
		Parts []struct {
			PartNumber int32  `json:"PartNumber"`
			ETag       string `json:"ETag"`
		} `json:"parts"`
	}
	if err := DecodeJSON(req, &b); err != nil {
		return Response{}, err
	}
	id := PathParam(req, "uploadId")
	sess, err := a.Svc.Session(ctx, p, id)
	if err != nil {
		return Response{}, err
	}
	if err := a.check(sess, req); err != nil {
		return Response{}, err
	}
	in := upload.CompleteInput{}
	for _, pt := range b.Parts {
		in.Parts = append(in.Parts, upload.Part{Number: pt.PartNumber, ETag: pt.ETag})
	}
	f, err := a.Svc.Complete(ctx, p, id, in)
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, map[string]string{"location": BaseURL(req) + "/v1/files/" + f.UUID, "key": sess.Key,
		"file_uuid": f.UUID})
}

func (a *Uppy) abort(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	sess, err := a.Svc.Session(ctx, p, PathParam(req, "uploadId"))
	if err != nil {
		return Response{}, err
	}
	if err := a.check(sess, req); err != nil {
		return Response{}, err
	}
	if err := a.Svc.Abort(ctx, p, sess.ID); err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, map[string]any{})
}
