package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// Sessions serves upload sessions, split into the three functions of the
// design: open, parts (+ status), complete (+ abort).
type Sessions struct {
	Svc *upload.Service
}

// Routes implements Feature.
func (a *Sessions) Routes() []Route {
	return []Route{
		{Method: "POST", Path: "/v1/sessions", Function: lambdas.SessionsOpen, Scope: auth.ScopeWrite, Handle: a.open},
		{Method: "GET", Path: "/v1/sessions/{id}", Function: lambdas.SessionsParts, Scope: auth.ScopeWrite, Handle: a.status},
		{Method: "POST", Path: "/v1/sessions/{id}/parts", Function: lambdas.SessionsParts, Scope: auth.ScopeWrite, Handle: a.parts},
		{Method: "POST", Path: "/v1/sessions/{id}/complete", Function: lambdas.SessionsComplete, Scope: auth.ScopeWrite, Handle: a.complete},
		{Method: "DELETE", Path: "/v1/sessions/{id}", Function: lambdas.SessionsComplete, Scope: auth.ScopeWrite, Handle: a.abort},
	}
}

type openBody struct {
	FileName    string                `json:"file_name"`
	FileSize    *int64                `json:"file_size"`
	ContentType string                `json:"content_type"`
	FileUUID    string                `json:"file_uuid"`
	Checksum    *upload.Checksum      `json:"checksum"`
	Attach      []upload.AttachTarget `json:"attach"`
}

type partView struct {
	PartNumber int               `json:"part_number"`
	Size       int64             `json:"size"`
	URL        string            `json:"url"`
	Method     string            `json:"method"`
	Headers    map[string]string `json:"headers"`
	ExpiresAt  time.Time         `json:"expires_at"`
}

type sessionView struct {
	ID          string           `json:"id"`
	Status      upload.Status    `json:"status"`
	FileUUID    string           `json:"file_uuid"`
	VersionUUID string           `json:"version_uuid"`
	NewFile     bool             `json:"new_file"`
	FileName    string           `json:"file_name"`
	FileSize    int64            `json:"file_size"`
	ContentType string           `json:"content_type"`
	PartSize    int64            `json:"part_size"`
	PartCount   int              `json:"part_count"`
	MaxPartSize int64            `json:"max_part_size"`
	MaxFileSize int64            `json:"max_file_size"`
	Checksum    *upload.Checksum `json:"checksum,omitempty"`
	Attach      []attachView     `json:"attach,omitempty"`
	CreatedAt   time.Time        `json:"created_at"`
	ExpiresAt   time.Time        `json:"expires_at"`
	Parts       []partView       `json:"parts,omitempty"`
	Links       map[string]Link  `json:"_links"`
}

type attachView struct {
	EntityType string `json:"entity_type"`
	EntityUUID string `json:"entity_uuid"`
	Kind       string `json:"kind"`
	NoteID     string `json:"note_id,omitempty"`
	FieldID    string `json:"field_id,omitempty"`
}

func (a *Sessions) view(s upload.Session, status upload.Status, parts []upload.PartURL) sessionView {
	self := "/v1/sessions/" + s.ID
	v := sessionView{ID: s.ID, Status: status, FileUUID: s.FileUUID, VersionUUID: s.VersionUUID, NewFile: s.NewFile,
		FileName: s.FileName, FileSize: s.Plan.Size, ContentType: s.MimeType, PartSize: s.Plan.PartSize,
		PartCount: s.Plan.PartCount, MaxPartSize: s.Plan.PartSize, MaxFileSize: a.Svc.Limits().MaxFileSize,
		Checksum: s.Checksum, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
		Links: map[string]Link{"self": {Href: self}, "parts": {Href: self + "/parts"}, "complete": {Href: self + "/complete"}}}
	for _, at := range s.Attach {
		av := attachView{EntityType: string(at.Entity.Type), EntityUUID: at.Entity.UUID, Kind: string(at.Kind)}
		if at.Kind == "note" {
			av.NoteID = at.RefID
		} else if at.Kind == "field" {
			av.FieldID = at.RefID
		}
		v.Attach = append(v.Attach, av)
	}
	for _, p := range parts {
		v.Parts = append(v.Parts, partView{PartNumber: p.Number, Size: p.Size, URL: p.Request.URL, Method: p.Request.Method,
			Headers: p.Request.Headers, ExpiresAt: p.ExpiresAt})
	}
	return v
}

func (a *Sessions) open(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	var b openBody
	if err := DecodeJSON(req, &b); err != nil {
		return Response{}, err
	}
	if b.FileSize == nil {
		return Response{}, apperr.Invalid("file_size", "is required (bytes)")
	}
	out, err := a.Svc.Open(ctx, p, upload.OpenInput{FileName: b.FileName, FileSize: *b.FileSize, ContentType: b.ContentType,
		FileUUID: b.FileUUID, Checksum: b.Checksum, Attach: b.Attach})
	if err != nil {
		return Response{}, err
	}
	resp, err := JSON(http.StatusCreated, a.view(out.Session, upload.StatusOpen, out.Parts))
	resp.Headers["Location"] = "/v1/sessions/" + out.Session.ID
	return resp, err
}

type partsBody struct {
	PartNumbers []int             `json:"part_numbers"`
	Checksums   map[string]string `json:"checksums"`
}

func (a *Sessions) parts(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	var b partsBody
	if err := DecodeJSON(req, &b); err != nil {
		return Response{}, err
	}
	sess, urls, err := a.Svc.Parts(ctx, p, PathParam(req, "id"), upload.PartsInput{PartNumbers: b.PartNumbers, Checksums: b.Checksums})
	if err != nil {
		return Response{}, err
	}
	v := a.view(sess, upload.StatusOpen, urls)
	return JSON(http.StatusOK, map[string]any{"id": sess.ID, "parts": v.Parts})
}

type uploadedPart struct {
	PartNumber int32  `json:"part_number"`
	Size       int64  `json:"size"`
	ETag       string `json:"etag"`
	Checksum   string `json:"checksum,omitempty"` // the part's CRC S3 verified
}

func (a *Sessions) status(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	st, err := a.Svc.Status(ctx, p, PathParam(req, "id"))
	if err != nil {
		return Response{}, err
	}
	out := a.statusBody(st, req)
	if st.File != nil {
		ss := st.Session
		out["file"] = completed(p, *st.File, VersionReceipt{UUID: ss.FileUUID, VersionUUID: ss.VersionUUID, Name: ss.FileName,
			Size: ss.Plan.Size, MimeType: ss.MimeType})
	}
	return JSON(http.StatusOK, out)
}

// statusBody is a session's status as GET /v1/sessions/{id} answers it,
// without the file it made.
func (a *Sessions) statusBody(st upload.State, req Request) map[string]any {
	uploaded := make([]uploadedPart, 0, len(st.Parts))
	have := map[int32]bool{}
	var bytes int64
	for _, pt := range st.Parts {
		uploaded = append(uploaded, uploadedPart{PartNumber: pt.Number, Size: pt.Size, ETag: pt.ETag, Checksum: pt.Checksum})
		have[pt.Number] = true
		bytes += pt.Size
	}
	missing := []int{}
	if st.Status == upload.StatusOpen {
		for n := 1; n <= st.Session.Plan.PartCount; n++ {
			if !have[int32(n)] {
				missing = append(missing, n)
			}
		}
	}
	out := map[string]any{"session": a.view(st.Session, st.Status, nil), "uploaded_parts": uploaded,
		"missing_parts": missing, "bytes_uploaded": bytes}
	if st.CompletionError != nil {
		out["completion_error"] = ProblemDoc(st.CompletionError, req.RequestContext.RequestID)
	}
	return out
}

type completeBody struct {
	Parts []struct {
		PartNumber int32  `json:"part_number"`
		ETag       string `json:"etag"`
	} `json:"parts"`
	Checksum *upload.Checksum `json:"checksum"`
}

// completeInput reads a completion's body (optional).
func completeInput(req Request) (upload.CompleteInput, error) {
	var b completeBody
	if req.Body != "" {
		if err := DecodeJSON(req, &b); err != nil {
			return upload.CompleteInput{}, err
		}
	}
	in := upload.CompleteInput{Checksum: b.Checksum}
	for i, pt := range b.Parts {
		if pt.PartNumber == 0 {
			return upload.CompleteInput{}, apperr.Invalid("parts["+strconv.Itoa(i)+"].part_number", "is required")
		}
		in.Parts = append(in.Parts, upload.Part{Number: pt.PartNumber, ETag: pt.ETag})
	}
	return in, nil
}

func (a *Sessions) complete(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	in, err := completeInput(req)
	if err != nil {
		return Response{}, err
	}
	f, err := a.Svc.Complete(ctx, p, PathParam(req, "id"), in)
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, completed(p, f, VersionReceipt{UUID: f.UUID, VersionUUID: f.VersionUUID, Name: f.Name, Size: f.Size, MimeType: f.MimeType}))
}

// VersionReceipt is what a completion answers a caller without files:read
// about a file it did not create: the version it uploaded, and nothing of
// the file (its id, authors, dates and other versions are files:read's).
type VersionReceipt struct {
	UUID        string `json:"uuid"`
	VersionUUID string `json:"version_uuid"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	MimeType    string `json:"mime_type"`
}

// completed renders the file a session completed for p: the file with
// files:read or when the upload created it (its one version), else the
// receipt of the version uploaded.
func completed(p auth.Principal, f files.File, receipt VersionReceipt) any {
	if p.Has(auth.ScopeRead) || f.VersionCount <= 1 {
		return ViewFile(f)
	}
	return receipt
}

func (a *Sessions) abort(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	if err := a.Svc.Abort(ctx, p, PathParam(req, "id")); err != nil {
		return Response{}, err
	}
	return NoContent()
}
