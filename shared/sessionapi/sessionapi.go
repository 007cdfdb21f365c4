// Package sessionapi is the HTTP face of upload sessions, split into the
// three Lambdas of the design: open, parts (+ status), complete (+ abort).
package sessionapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/anexo/anexo/shared/api"
	"github.com/anexo/anexo/shared/apperr"
	"github.com/anexo/anexo/shared/auth"
	"github.com/anexo/anexo/shared/upload"
)

// API serves session routes.
type API struct {
	Svc *upload.Service
}

// OpenRoutes are served by the sessions-open function.
func (a API) OpenRoutes() api.Routes { return api.Routes{"POST /v1/sessions": a.open} }

// PartsRoutes are served by the sessions-parts function.
func (a API) PartsRoutes() api.Routes {
	return api.Routes{"POST /v1/sessions/{id}/parts": a.parts, "GET /v1/sessions/{id}": a.status}
}

// CompleteRoutes are served by the sessions-complete function.
func (a API) CompleteRoutes() api.Routes {
	return api.Routes{"POST /v1/sessions/{id}/complete": a.complete, "DELETE /v1/sessions/{id}": a.abort}
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
	ID          string              `json:"id"`
	Status      upload.Status       `json:"status"`
	FileUUID    string              `json:"file_uuid"`
	VersionUUID string              `json:"version_uuid"`
	NewFile     bool                `json:"new_file"`
	FileName    string              `json:"file_name"`
	FileSize    int64               `json:"file_size"`
	ContentType string              `json:"content_type"`
	PartSize    int64               `json:"part_size"`
	PartCount   int                 `json:"part_count"`
	MaxPartSize int64               `json:"max_part_size"`
	MaxFileSize int64               `json:"max_file_size"`
	Checksum    *upload.Checksum    `json:"checksum,omitempty"`
	Attach      []attachView        `json:"attach,omitempty"`
	CreatedAt   time.Time           `json:"created_at"`
	ExpiresAt   time.Time           `json:"expires_at"`
	Parts       []partView          `json:"parts,omitempty"`
	Links       map[string]api.Link `json:"_links"`
}

type attachView struct {
	EntityType string `json:"entity_type"`
	EntityUUID string `json:"entity_uuid"`
	Kind       string `json:"kind"`
	NoteID     string `json:"note_id,omitempty"`
	FieldID    string `json:"field_id,omitempty"`
}

func (a API) view(s upload.Session, status upload.Status, parts []upload.PartURL) sessionView {
	self := "/v1/sessions/" + s.ID
	v := sessionView{ID: s.ID, Status: status, FileUUID: s.FileUUID, VersionUUID: s.VersionUUID, NewFile: s.NewFile,
		FileName: s.FileName, FileSize: s.Plan.Size, ContentType: s.MimeType, PartSize: s.Plan.PartSize,
		PartCount: s.Plan.PartCount, MaxPartSize: s.Plan.PartSize, MaxFileSize: a.Svc.Limits().MaxFileSize,
		Checksum: s.Checksum, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
		Links: map[string]api.Link{"self": {Href: self}, "parts": {Href: self + "/parts"}, "complete": {Href: self + "/complete"}}}
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

func (a API) open(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	var b openBody
	if err := api.DecodeJSON(req, &b); err != nil {
		return api.Response{}, err
	}
	if b.FileSize == nil {
		return api.Response{}, apperr.Invalid("file_size", "is required (bytes)")
	}
	out, err := a.Svc.Open(ctx, p, upload.OpenInput{FileName: b.FileName, FileSize: *b.FileSize, ContentType: b.ContentType,
		FileUUID: b.FileUUID, Checksum: b.Checksum, Attach: b.Attach})
	if err != nil {
		return api.Response{}, err
	}
	resp, err := api.JSON(http.StatusCreated, a.view(out.Session, upload.StatusOpen, out.Parts))
	resp.Headers["Location"] = "/v1/sessions/" + out.Session.ID
	return resp, err
}

type partsBody struct {
	PartNumbers []int             `json:"part_numbers"`
	Checksums   map[string]string `json:"checksums"`
}

func (a API) parts(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	var b partsBody
	if err := api.DecodeJSON(req, &b); err != nil {
		return api.Response{}, err
	}
	sess, urls, err := a.Svc.Parts(ctx, p, api.PathParam(req, "id"), upload.PartsInput{PartNumbers: b.PartNumbers, Checksums: b.Checksums})
	if err != nil {
		return api.Response{}, err
	}
	v := a.view(sess, upload.StatusOpen, urls)
	return api.JSON(http.StatusOK, map[string]any{"id": sess.ID, "parts": v.Parts})
}

type uploadedPart struct {
	PartNumber int32  `json:"part_number"`
	Size       int64  `json:"size"`
	ETag       string `json:"etag"`
}

func (a API) status(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	st, err := a.Svc.Status(ctx, p, api.PathParam(req, "id"))
	if err != nil {
		return api.Response{}, err
	}
	uploaded := make([]uploadedPart, 0, len(st.Parts))
	have := map[int32]bool{}
	var bytes int64
	for _, pt := range st.Parts {
		uploaded = append(uploaded, uploadedPart{PartNumber: pt.Number, Size: pt.Size, ETag: pt.ETag})
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
	if st.File != nil {
		out["file"] = api.ViewFile(*st.File)
	}
	if st.CompletionError != nil {
		out["completion_error"] = api.ProblemDoc(st.CompletionError, req.RequestContext.RequestID)
	}
	return api.JSON(http.StatusOK, out)
}

type completeBody struct {
	Parts []struct {
		PartNumber int32  `json:"part_number"`
		ETag       string `json:"etag"`
	} `json:"parts"`
}

func (a API) complete(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	var b completeBody
	if req.Body != "" {
		if err := api.DecodeJSON(req, &b); err != nil {
			return api.Response{}, err
		}
	}
	in := upload.CompleteInput{}
	for i, pt := range b.Parts {
		if pt.PartNumber == 0 {
			return api.Response{}, apperr.Invalid("parts["+strconv.Itoa(i)+"].part_number", "is required")
		}
		in.Parts = append(in.Parts, upload.Part{Number: pt.PartNumber, ETag: pt.ETag})
	}
	f, err := a.Svc.Complete(ctx, p, api.PathParam(req, "id"), in)
	if err != nil {
		return api.Response{}, err
	}
	return api.JSON(http.StatusOK, api.ViewFile(f))
}

func (a API) abort(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	if err := a.Svc.Abort(ctx, p, api.PathParam(req, "id")); err != nil {
		return api.Response{}, err
	}
	return api.NoContent()
}
