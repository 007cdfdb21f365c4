// File requests: the account's side (requests:admin) makes, lists,
// relinks and revokes them; the public side is what the person a link is
// sent to reaches without a token — the request, and upload sessions
// bound to it, under the link's secret (the Anexo-File-Request header,
// never in a path: paths are logged) and its passcode (Anexo-Passcode).

package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/requests"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// The public routes' headers: the link's secret and the passcode.
const (
	RequestHeader  = "Anexo-File-Request"
	PasscodeHeader = "Anexo-Passcode"
)

// PublicRequestPath is where the public routes live.
const PublicRequestPath = "/v1/public/file-request"

// FileRequests serves file requests: their management and their public
// side.
type FileRequests struct {
	Svc      *requests.Service
	Sessions *Sessions // the public uploads are upload sessions
	// Current: managing requests (which mint public links) takes the
	// token's current secret, as managing tokens and webhooks does.
	Current SecretCheck
	Clock   clock.Func
}

// Routes implements Feature.
func (a *FileRequests) Routes() []Route {
	admin := func(method, path string, h Endpoint) Route {
		return Route{Method: method, Path: path, Function: lambdas.Attachments, Scope: auth.ScopeRequests, Handle: currentOnly(a.Current, h)}
	}
	public := func(method, path string, h publicEndpoint) Route {
		return Route{Method: method, Path: PublicRequestPath + path, Function: lambdas.Companion, Public: true, Handle: a.visit(h)}
	}
	return []Route{
		admin("POST", "/v1/file-requests", a.create),
		admin("GET", "/v1/file-requests", a.list),
		admin("GET", "/v1/file-requests/{id}", a.get),
		admin("POST", "/v1/file-requests/{id}/revoke", a.revoke),
		admin("POST", "/v1/file-requests/{id}/link", a.relink),
		public("GET", "", a.show),
		public("POST", "/uploads", a.open),
		public("GET", "/uploads/{id}", a.status),
		public("POST", "/uploads/{id}/parts", a.parts),
		public("POST", "/uploads/{id}/complete", a.complete),
		public("DELETE", "/uploads/{id}", a.abort),
	}
}

type createRequestBody struct {
	Entity struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"entity"`
	Attach *struct {
		Kind    string `json:"kind"`
		NoteID  string `json:"note_id"`
		FieldID string `json:"field_id"`
	} `json:"attach"`
	Title            string          `json:"title"`
	Message          string          `json:"message"`
	Slots            []requests.Slot `json:"slots"`
	MaxFiles         int             `json:"max_files"`
	MaxBytes         int64           `json:"max_bytes"`
	ExpiresInSeconds *int64          `json:"expires_in"`
	Passcode         string          `json:"passcode"`
}

func (a *FileRequests) create(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	var b createRequestBody
	if err := DecodeJSON(req, &b); err != nil {
		return Response{}, err
	}
	in := requests.New{EntityType: b.Entity.Type, EntityID: b.Entity.ID, Title: b.Title, Message: b.Message, Slots: b.Slots,
		MaxFiles: b.MaxFiles, MaxBytes: b.MaxBytes, Passcode: b.Passcode}
	if b.Attach != nil {
		in.Kind, in.NoteID, in.FieldID = b.Attach.Kind, b.Attach.NoteID, b.Attach.FieldID
	}
	if b.ExpiresInSeconds != nil {
		if *b.ExpiresInSeconds <= 0 {
			return Response{}, apperr.Invalid("expires_in", "must be a positive number of seconds")
		}
		in.TTL = time.Duration(min(*b.ExpiresInSeconds, int64(requests.MaxTTL/time.Second)+1)) * time.Second
	}
	r, link, err := a.Svc.Create(ctx, p, in)
	if err != nil {
		return Response{}, err
	}
	resp, err := JSON(http.StatusCreated, a.withLink(r, link))
	resp.Headers["Location"] = "/v1/file-requests/" + r.ID
	return resp, err
}

// withLink is a request with its link, answered once.
func (a *FileRequests) withLink(r requests.Request, l requests.Link) map[string]any {
	return map[string]any{"file_request": a.view(r), "link": map[string]any{"secret": l.Secret, "url": optString(l.URL)}}
}

func (a *FileRequests) list(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	v, _ := url.ParseQuery(req.RawQueryString)
	var errs apperr.Fields
	limit := 20
	var status requests.Status
	for k, vals := range v {
		switch k {
		case "after":
		case "limit":
			limit = limitParam(vals[0], requests.MaxList, &errs)
		case "status":
			status = requests.Status(vals[0])
			if !slices.Contains(requests.Statuses, status) {
				errs.Add("status", "must be open, fulfilled, expired or revoked")
			}
		default:
			errs.Add(k, "unknown query parameter (after, limit, status)")
		}
	}
	if err := errs.Err(); err != nil {
		return Response{}, err
	}
	rs, next, err := a.Svc.List(ctx, p, v.Get("after"), status, limit)
	if err != nil {
		return Response{}, err
	}
	views := make([]RequestView, len(rs))
	for i, r := range rs {
		views[i] = a.view(r)
	}
	return afterPage(req, "/v1/file-requests", v, next, limit, len(views), "file_requests", views, nil)
}

func (a *FileRequests) get(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	r, err := a.Svc.Get(ctx, p, PathParam(req, "id"))
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, a.view(r))
}

func (a *FileRequests) revoke(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	r, err := a.Svc.Revoke(ctx, p, PathParam(req, "id"))
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, a.view(r))
}

func (a *FileRequests) relink(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	r, link, err := a.Svc.Relink(ctx, p, PathParam(req, "id"))
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, a.withLink(r, link))
}

// RequestView is a file request as its account sees it.
type RequestView struct {
	ID            string             `json:"id"`
	Status        requests.Status    `json:"status"`
	Title         string             `json:"title"`
	Message       string             `json:"message"`
	Entity        outbox.Entity      `json:"entity"`
	Attach        attachView         `json:"attach"`
	Slots         []SlotView         `json:"slots"`
	MaxFiles      int                `json:"max_files"`
	MaxBytes      int64              `json:"max_bytes"`
	ReceivedBytes int64              `json:"received_bytes"`
	Received      []requests.Receipt `json:"received"`
	Passcode      bool               `json:"passcode"`
	ExpiresAt     time.Time          `json:"expires_at"`
	CreatedAt     time.Time          `json:"created_at"`
	CreatedBy     string             `json:"created_by"`
	FulfilledAt   *time.Time         `json:"fulfilled_at"`
	RevokedAt     *time.Time         `json:"revoked_at"`
	Links         map[string]Link    `json:"_links"`
}

// SlotView is a slot with how many files it holds.
type SlotView struct {
	requests.Slot
	Received int `json:"received"`
}

func (a *FileRequests) view(r requests.Request) RequestView {
	t := r.Target
	self := "/v1/file-requests/" + r.ID
	v := RequestView{ID: r.ID, Status: r.StatusAt(a.Clock.Now()), Title: r.Title, Message: r.Message,
		Entity: outbox.EntityOf(string(t.Entity.Type), t.Entity.UUID, t.Entity.Code, t.Title),
		Attach: attachView{EntityType: string(t.Entity.Type), EntityUUID: t.Entity.UUID, Kind: string(t.Kind)},
		Slots:  []SlotView{}, MaxFiles: r.MaxFiles, MaxBytes: r.MaxBytes, ReceivedBytes: r.ReceivedBytes(),
		Received: r.Received, Passcode: r.Passcode != "", ExpiresAt: r.ExpiresAt, CreatedAt: r.CreatedAt, CreatedBy: r.CreatedBy,
		FulfilledAt: optTime(r.FulfilledAt), RevokedAt: optTime(r.RevokedAt),
		Links: map[string]Link{"self": {Href: self}, "revoke": {Href: self + "/revoke"}, "link": {Href: self + "/link"},
			"entity": {Href: "/v1/entities/" + string(t.Entity.Type) + "/" + t.Entity.UUID}}}
	switch t.Kind {
	case "note":
		v.Attach.NoteID = t.RefID
	case "field":
		v.Attach.FieldID = t.RefID
	}
	if v.Received == nil {
		v.Received = []requests.Receipt{}
	}
	for _, s := range r.Slots {
		v.Slots = append(v.Slots, SlotView{Slot: shownSlot(s), Received: r.Held(s.Name)})
	}
	return v
}

// shownSlot is a slot as the views show it: a slot that takes any file
// accepts [] (stores may keep no list at all).
func shownSlot(s requests.Slot) requests.Slot {
	if s.Accept == nil {
		s.Accept = []string{}
	}
	return s
}

// publicEndpoint serves a route of a request's public side.
type publicEndpoint func(ctx context.Context, req Request, r requests.Request) (Response, error)

// visit opens the request the link in the header names (with its
// passcode) before h: what every public route does first.
func (a *FileRequests) visit(h publicEndpoint) Endpoint {
	return func(ctx context.Context, req Request, _ auth.Principal) (Response, error) {
		secret := Header(req, RequestHeader)
		if secret == "" {
			return Response{}, apperr.New(apperr.KindUnauthorized, "missing_link", "send the request's link secret in the "+RequestHeader+" header").
				With("field", RequestHeader)
		}
		r, err := a.Svc.Visit(ctx, secret, Header(req, PasscodeHeader))
		if err != nil {
			return Response{}, err
		}
		return h(ctx, req, r)
	}
}

// PublicView is a request as the person its link was sent to sees it:
// what it asks for and what it received (names and sizes: not who sent
// them), never the entity, the account or the files themselves.
type PublicView struct {
	Title         string          `json:"title"`
	Message       string          `json:"message"`
	Status        requests.Status `json:"status"`
	ExpiresAt     time.Time       `json:"expires_at"`
	Slots         []PublicSlot    `json:"slots"`
	MaxFiles      int             `json:"max_files"`
	MaxBytes      int64           `json:"max_bytes"`
	ReceivedBytes int64           `json:"received_bytes"`
	// Received is what a request without slots received.
	Received []PublicReceipt `json:"received"`
}

// PublicSlot is a slot and what it received.
type PublicSlot struct {
	requests.Slot
	Received []PublicReceipt `json:"received"`
}

// PublicReceipt is a received file as the public page shows it.
type PublicReceipt struct {
	Name       string                 `json:"name"`
	Size       int64                  `json:"size"`
	Status     requests.ReceiptStatus `json:"status"`
	ReceivedAt time.Time              `json:"received_at"`
}

func (a *FileRequests) public(r requests.Request) PublicView {
	v := PublicView{Title: r.Title, Message: r.Message, Status: r.StatusAt(a.Clock.Now()), ExpiresAt: r.ExpiresAt, Slots: []PublicSlot{},
		MaxFiles: r.MaxFiles, MaxBytes: r.MaxBytes, ReceivedBytes: r.ReceivedBytes(), Received: []PublicReceipt{}}
	of := func(slot string) []PublicReceipt {
		out := []PublicReceipt{}
		for _, rc := range r.Received {
			if rc.Slot == slot {
				out = append(out, PublicReceipt{Name: rc.Name, Size: rc.Size, Status: rc.Status, ReceivedAt: rc.ReceivedAt})
			}
		}
		return out
	}
	for _, s := range r.Slots {
		v.Slots = append(v.Slots, PublicSlot{Slot: shownSlot(s), Received: of(s.Name)})
	}
	if len(r.Slots) == 0 {
		v.Received = of("")
	}
	return v
}

func (a *FileRequests) show(ctx context.Context, _ Request, r requests.Request) (Response, error) {
	r, err := a.Svc.Heal(ctx, r)
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, a.public(r))
}

type publicOpenBody struct {
	Slot        string            `json:"slot"`
	FileName    string            `json:"file_name"`
	FileSize    *int64            `json:"file_size"`
	ContentType string            `json:"content_type"`
	Checksum    *upload.Checksum  `json:"checksum"`
	Uploader    requests.Uploader `json:"uploader"`
}

// sessionLinks points a public session's links at the public routes.
func sessionLinks(id string) map[string]Link {
	self := PublicRequestPath + "/uploads/" + id
	return map[string]Link{"self": {Href: self}, "parts": {Href: self + "/parts"}, "complete": {Href: self + "/complete"}}
}

func (a *FileRequests) open(ctx context.Context, req Request, r requests.Request) (Response, error) {
	var b publicOpenBody
	if err := DecodeJSON(req, &b); err != nil {
		return Response{}, err
	}
	if b.FileSize == nil {
		return Response{}, apperr.Invalid("file_size", "is required (bytes)")
	}
	mt, err := files.MimeType(b.ContentType, b.FileName)
	if err != nil {
		return Response{}, apperr.Invalid("content_type", "must be a media type such as application/pdf")
	}
	p, bound, err := a.Svc.Admit(ctx, r, requests.Upload{Slot: b.Slot, Name: b.FileName, Size: *b.FileSize, MimeType: mt, Uploader: b.Uploader})
	if err != nil {
		return Response{}, err
	}
	out, err := a.Sessions.Svc.Open(ctx, p, upload.OpenInput{FileName: b.FileName, FileSize: *b.FileSize, ContentType: b.ContentType,
		Checksum: b.Checksum, Request: &bound})
	if err != nil {
		return Response{}, err
	}
	v := a.Sessions.view(out.Session, upload.StatusOpen, out.Parts)
	v.Links = sessionLinks(out.Session.ID)
	resp, err := JSON(http.StatusCreated, v)
	resp.Headers["Location"] = v.Links["self"].Href
	return resp, err
}

func (a *FileRequests) status(ctx context.Context, req Request, r requests.Request) (Response, error) {
	st, err := a.Sessions.Svc.Status(ctx, r.Principal(requests.Uploader{}), PathParam(req, "id"))
	if err != nil {
		return Response{}, err
	}
	out := a.Sessions.statusBody(st, req)
	sv := out["session"].(sessionView)
	sv.Links = sessionLinks(st.Session.ID)
	out["session"] = sv
	if st.File != nil {
		out["file_request"] = a.public(a.reread(ctx, r))
	}
	return JSON(http.StatusOK, out)
}

// reread is r as stored now (after an upload's completion changed it),
// or r when it cannot be read.
func (a *FileRequests) reread(ctx context.Context, r requests.Request) requests.Request {
	if cur, err := a.Svc.Store.GetRequest(ctx, r.AccountID, r.ID); err == nil {
		return cur
	}
	return r
}

func (a *FileRequests) parts(ctx context.Context, req Request, r requests.Request) (Response, error) {
	return a.Sessions.parts(ctx, req, r.Principal(requests.Uploader{}))
}

func (a *FileRequests) abort(ctx context.Context, req Request, r requests.Request) (Response, error) {
	return a.Sessions.abort(ctx, req, r.Principal(requests.Uploader{}))
}

// complete answers the request as it is after the file landed (its
// receipt is there: scanning, or attached), never the file itself.
func (a *FileRequests) complete(ctx context.Context, req Request, r requests.Request) (Response, error) {
	in, err := completeInput(req)
	if err != nil {
		return Response{}, err
	}
	f, err := a.Sessions.Svc.Complete(ctx, r.Principal(requests.Uploader{}), PathParam(req, "id"), in)
	if err != nil {
		return Response{}, err
	}
	cur := a.reread(ctx, r)
	out := map[string]any{"file_request": a.public(cur)}
	if i, ok := cur.Receipt(f.VersionUUID); ok {
		rc := cur.Received[i]
		out["receipt"] = PublicReceipt{Name: rc.Name, Size: rc.Size, Status: rc.Status, ReceivedAt: rc.ReceivedAt}
	}
	return JSON(http.StatusOK, out)
}
