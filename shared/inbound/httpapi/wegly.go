package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/ids"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/batches"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// Wegly serves Wegly-compatible batch uploads (the batches function): POST
// /integrations/external/files/batches with exactly the seed's multipart
// fields, and GET of a batch.
type Wegly struct {
	Batches *batches.Service
}

// Routes implements Feature.
func (a *Wegly) Routes() []Route {
	return []Route{
		{Method: "POST", Path: "/integrations/external/files/batches", Function: lambdas.Batches, Scope: auth.ScopeWrite, Handle: a.create},
		{Method: "GET", Path: "/integrations/external/files/batches/{id}", Function: lambdas.Batches, Scope: auth.ScopeRead, Handle: a.get},
	}
}

// Form fields of the seed (wegly-files-batches.txt).
var (
	targetFields = []string{"crm_lead_id", "crm_deal_id", "lead_code", "deal_code"}
	textFields   = map[string]bool{"crm_lead_id": true, "crm_deal_id": true, "lead_code": true, "deal_code": true, "title": true, "note": true}
	// files is the main field (one or many parts), file the single-file
	// alternative, files.items what some generated clients send; "[]"
	// suffixes are accepted as PHP- and Rails-style clients send them.
	fileFields = map[string]string{"file": "file", "files": "files", "files[]": "files", "files.items": "files.items", "files.items[]": "files.items"}
)

// maxText bounds a text part (title and note are validated more tightly).
const maxText = 64 << 10

func tooLarge() error {
	return apperr.New(apperr.KindTooLarge, "payload_too_large",
		fmt.Sprintf("batch uploads carry at most %d bytes (Lambda's payload limit); upload larger files with an upload session: POST /v1/sessions", batches.MaxBody)).
		With("sessions", "/v1/sessions").With("max_body_bytes", batches.MaxBody)
}

// parse reads the multipart body strictly: unknown fields, repeated text
// fields, text where a file belongs and malformed bodies are errors naming
// the field.
func parse(req Request) (batches.Input, error) {
	ct := Header(req, "Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return batches.Input{}, apperr.New(apperr.KindInvalid, "unsupported_media_type",
			"send the batch as multipart/form-data (with a boundary)").With("field", "Content-Type")
	}
	body, err := Body(req)
	if err != nil {
		return batches.Input{}, err
	}
	if len(body) > batches.MaxBody {
		return batches.Input{}, tooLarge()
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	text := map[string]string{}
	var in batches.Input
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return batches.Input{}, apperr.Invalid("body", "malformed multipart body: "+err.Error())
		}
		name := part.FormName()
		_, dparams, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		_, hasFilename := dparams["filename"]
		data, err := io.ReadAll(part)
		if err != nil {
			return batches.Input{}, apperr.Invalid("body", "malformed multipart body: "+err.Error())
		}
		switch {
		case name == "":
			return batches.Input{}, apperr.Invalid(fmt.Sprintf("body.parts[%d]", i), "every part needs a form-data name")
		case textFields[name]:
			if hasFilename {
				return batches.Input{}, apperr.Invalid(name, "must be a text field, not a file")
			}
			if _, dup := text[name]; dup {
				return batches.Input{}, apperr.Invalid(name, "give it once")
			}
			if len(data) > maxText {
				return batches.Input{}, apperr.Invalid(name, "is too long")
			}
			text[name] = string(data)
		case fileFields[name] != "":
			if !hasFilename {
				return batches.Input{}, apperr.Invalid(fileFields[name], "must be a file part (Content-Disposition with a filename)")
			}
			if dparams["filename"] == "" && len(data) == 0 {
				continue // an empty file input, as browsers send it
			}
			ct := part.Header.Get("Content-Type")
			if strings.EqualFold(ct, "application/octet-stream") {
				ct = "" // what curl and browsers send for a type they do not know: derive it from the name
			}
			in.Files = append(in.Files, batches.Upload{Field: fileFields[name], Name: part.FileName(), ContentType: ct, Data: data})
		default:
			return batches.Input{}, apperr.Invalid(name, "unknown field; the batch takes crm_lead_id, crm_deal_id, lead_code, deal_code, title, note, files, file")
		}
	}
	var given []string
	for _, f := range targetFields {
		if v, ok := text[f]; ok && strings.TrimSpace(v) != "" {
			given = append(given, f)
		}
	}
	switch len(given) {
	case 0:
		return batches.Input{}, apperr.Invalid("crm_lead_id", "send exactly one of crm_lead_id, crm_deal_id, lead_code, deal_code")
	case 1:
	default:
		return batches.Input{}, apperr.Invalid(given[1], "send exactly one of crm_lead_id, crm_deal_id, lead_code, deal_code (got "+strings.Join(given, ", ")+")")
	}
	in.TargetField = given[0]
	v := strings.TrimSpace(text[in.TargetField])
	typ := entities.Lead
	if strings.HasPrefix(in.TargetField, "crm_deal") || strings.HasPrefix(in.TargetField, "deal") {
		typ = entities.Deal
	}
	if strings.HasSuffix(in.TargetField, "_id") {
		if err = ids.Check(in.TargetField, v); err == nil {
			in.Target = entities.Ref{Type: typ, UUID: strings.ToLower(v)}
		}
	} else {
		var code int64
		code, err = entities.ParseCode(in.TargetField, v)
		in.Target = entities.Ref{Type: typ, Code: code}
	}
	if err != nil {
		return batches.Input{}, err
	}
	if t, ok := text["title"]; ok {
		in.Title = &t
	}
	if n, ok := text["note"]; ok {
		in.Note = &n
	}
	in.IdempotencyKey = Header(req, "Idempotency-Key")
	return in, nil
}

func (a *Wegly) create(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	in, err := parse(req)
	if err != nil {
		return Response{}, err
	}
	b, _, err := a.Batches.Create(ctx, p, in)
	if err != nil {
		return Response{}, err
	}
	resp, err := JSON(http.StatusCreated, view(req, b))
	if err == nil {
		resp.Headers["Location"] = "/integrations/external/files/batches/" + b.ID
	}
	return resp, err
}

func (a *Wegly) get(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	b, err := a.Batches.Get(ctx, p, PathParam(req, "id"))
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, view(req, b))
}

// The seed's response shape.
type person struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Avatar string `json:"avatar"`
}

type weglyRef struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type fileView struct {
	ID        string    `json:"id"`
	CreatedBy person    `json:"created_by"`
	FileURL   string    `json:"file_url"`
	FileName  string    `json:"file_name"`
	MimeType  string    `json:"mime_type"`
	Size      int64     `json:"size"`
	CreatedAt time.Time `json:"created_at"`
}

type batchView struct {
	ID          string     `json:"id"`
	Source      int        `json:"source"`
	Title       *string    `json:"title"`
	Note        *string    `json:"note"`
	FilesCount  int        `json:"files_count"`
	TotalSize   int64      `json:"total_size"`
	CreatedBy   person     `json:"created_by"`
	CRMLead     *weglyRef  `json:"crm_lead"`
	CRMDeal     *weglyRef  `json:"crm_deal"`
	CRMDelivery any        `json:"crm_delivery"`
	Files       []fileView `json:"files"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func view(req Request, b batches.Batch) batchView {
	by := person{ID: b.CreatedByID, Name: b.CreatedBy, Avatar: ""}
	v := batchView{ID: b.ID, Source: 1, Title: b.Title, Note: b.Note, FilesCount: len(b.Items), TotalSize: b.TotalSize,
		CreatedBy: by, Files: []fileView{}, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
	target := &weglyRef{ID: b.Target.UUID, Title: b.Target.Title}
	if b.Target.Type == entities.Deal {
		v.CRMDeal = target
	} else {
		v.CRMLead = target
	}
	base := BaseURL(req)
	for _, it := range b.Items {
		v.Files = append(v.Files, fileView{ID: it.File.UUID, CreatedBy: by, FileURL: base + "/v1/files/" + it.File.UUID + "/download",
			FileName: it.File.Name, MimeType: it.File.MimeType, Size: it.File.Size, CreatedAt: it.File.CreatedAt})
	}
	return v
}
