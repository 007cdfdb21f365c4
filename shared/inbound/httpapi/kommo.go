package httpapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/relay"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// Kommo serves Kommo's Files API on its own wire: upload sessions whose
// parts come through the API (package relay), the file list, delete,
// restore and versions under /v1.0, and the entity /files routes under
// /api/v4. Every answer is a view of the same files /v1 serves.
type Kommo struct {
	Relay    *relay.Service
	Catalog  *catalog.Catalog
	Entities *entities.Service
}

// Routes implements Feature.
func (a *Kommo) Routes() []Route {
	const entity = "/api/v4/{entity_type}/{entity_id}/files"
	route := func(method, path, fn string, scope auth.Scope, h Endpoint) Route {
		return Route{Method: method, Path: path, Function: fn, Scope: scope, Handle: h}
	}
	return []Route{
		route("POST", "/v1.0/sessions", lambdas.SessionsOpen, auth.ScopeWrite, a.open),
		// the parts' bytes pass through Lambda, as batch uploads' do
		route("POST", "/v1.0/sessions/upload/{ticket}", lambdas.Batches, auth.ScopeWrite, a.part),
		route("GET", "/v1.0/files", lambdas.Files, auth.ScopeRead, a.list),
		route("GET", "/v1.0/files/{uuid}", lambdas.Files, auth.ScopeRead, a.get),
		route("GET", "/v1.0/files/{uuid}/versions", lambdas.Files, auth.ScopeRead, a.versions),
		route("DELETE", "/v1.0/files", lambdas.Files, auth.ScopeDelete, a.batch(func(c *catalog.Catalog) fileBatchOp { return c.Trash })),
		route("POST", "/v1.0/files/restore", lambdas.Files, auth.ScopeDelete, a.batch(func(c *catalog.Catalog) fileBatchOp { return c.Restore })),
		route("PUT", entity, lambdas.Attachments, auth.ScopeWrite, a.attach(func(e *entities.Service) entityBatchOp { return e.Attach })),
		route("DELETE", entity, lambdas.Attachments, auth.ScopeWrite, a.attach(func(e *entities.Service) entityBatchOp { return e.Detach })),
		route("GET", entity, lambdas.Attachments, auth.ScopeRead, a.entityFiles),
	}
}

// kommoUser is Kommo's author reference. Anexo's files are written by
// integrations (API tokens), which Kommo calls robots: id 0.
type kommoUser struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

var robot = &kommoUser{ID: 0, Type: "robot"}

type kommoMetadata struct {
	Extension string `json:"extension"`
	MimeType  string `json:"mime_type"`
}

// kommoFile is a file as Kommo's file list, restore and the last part of
// an upload answer it: times in Unix seconds.
type kommoFile struct {
	UUID                string          `json:"uuid"`
	VersionUUID         string          `json:"version_uuid"`
	ID                  int64           `json:"id"`
	Name                string          `json:"name"`
	SanitizedName       string          `json:"sanitized_name"`
	Type                string          `json:"type"`
	Extension           string          `json:"extension"`
	MimeType            string          `json:"mime_type"`
	Size                int64           `json:"size"`
	IsTrashed           bool            `json:"is_trashed"`
	SourceID            *int64          `json:"source_id"`
	HasMultipleVersions bool            `json:"has_multiple_versions"`
	CreatedAt           int64           `json:"created_at"`
	CreatedBy           *kommoUser      `json:"created_by"`
	UpdatedAt           int64           `json:"updated_at"`
	UpdatedBy           *kommoUser      `json:"updated_by"`
	DeletedAt           *int64          `json:"deleted_at"`
	DeletedBy           *kommoUser      `json:"deleted_by"`
	Metadata            kommoMetadata   `json:"metadata"`
	Previews            []kommoPreview  `json:"previews"` // null until previews exist (and in listings without with_preview)
	Links               map[string]Link `json:"_links"`
}

func unixPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	u := t.Unix()
	return &u
}

func viewKommoFile(base string, f files.File) kommoFile {
	v := kommoFile{UUID: f.UUID, VersionUUID: f.VersionUUID, ID: f.ID, Name: f.Name, SanitizedName: f.SanitizedName,
		Type: f.Type, Extension: f.Extension, MimeType: f.MimeType, Size: f.Size, IsTrashed: f.IsTrashed,
		HasMultipleVersions: f.VersionCount > 1, CreatedAt: f.CreatedAt.Unix(), CreatedBy: robot,
		UpdatedAt: f.UpdatedAt.Unix(), UpdatedBy: robot, DeletedAt: unixPtr(f.DeletedAt),
		Metadata: kommoMetadata{Extension: f.Extension, MimeType: f.MimeType}, Previews: viewKommoPreviews(f.Previews),
		Links: map[string]Link{
			"self":             {Href: base + "/v1.0/files/" + f.UUID},
			"download":         {Href: base + "/v1/files/" + f.UUID + "/download"},
			"download_version": {Href: base + "/v1/files/" + f.UUID + "/download?version_uuid=" + f.VersionUUID},
		}}
	if f.DeletedAt != nil {
		v.DeletedBy = robot
	}
	return v
}

// kommoVersion is one version as Kommo's version list shows it.
type kommoVersion struct {
	UUID          string          `json:"uuid"`
	FileUUID      string          `json:"file_uuid"`
	Type          string          `json:"type"`
	Name          string          `json:"name"`
	SanitizedName string          `json:"sanitized_name"`
	Size          int64           `json:"size"`
	IsMain        bool            `json:"is_main"`
	SourceID      *int64          `json:"source_id"`
	CreatedAt     int64           `json:"created_at"`
	CreatedBy     *kommoUser      `json:"created_by"`
	UpdatedAt     int64           `json:"updated_at"`
	UpdatedBy     *kommoUser      `json:"updated_by"`
	Metadata      kommoMetadata   `json:"metadata"`
	Previews      []kommoPreview  `json:"previews"`
	Links         map[string]Link `json:"_links"`
}

// kommoPreview is a preview as Kommo's API shows it.
type kommoPreview struct {
	DownloadLink string `json:"download_link"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
}

// viewKommoPreviews are the previews whose links were signed.
func viewKommoPreviews(ps files.Previews) []kommoPreview {
	var out []kommoPreview
	for _, p := range ps {
		if p.URL != "" {
			out = append(out, kommoPreview{DownloadLink: p.URL, Width: p.Width, Height: p.Height})
		}
	}
	return out
}

// kommoOpenBody is Kommo's session request, as JSON or form fields.
type kommoOpenBody struct {
	FileName    string `json:"file_name"`
	FileSize    *int64 `json:"file_size"`
	ContentType string `json:"content_type"`
	FileUUID    string `json:"file_uuid"`
	WithPreview *bool  `json:"with_preview"` // accepted: every version gets previews where its format has them
}

// isForm reports a multipart/form-data request and its boundary.
func isForm(req Request) (string, bool) {
	mt, params, err := mime.ParseMediaType(Header(req, "Content-Type"))
	return params["boundary"], err == nil && mt == "multipart/form-data" && params["boundary"] != ""
}

// formFields reads a small multipart form's parts: text fields by name,
// and the first file part's bytes.
func formFields(req Request, boundary string) (map[string]string, []byte, error) {
	body, err := Body(req)
	if err != nil {
		return nil, nil, err
	}
	fields := map[string]string{}
	var file []byte
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return fields, file, nil
		}
		if err != nil {
			return nil, nil, apperr.Invalid("body", "is not a well-formed multipart/form-data body: "+err.Error())
		}
		b, err := io.ReadAll(io.LimitReader(part, relay.MaxPart+1))
		if err != nil {
			return nil, nil, apperr.Invalid("body", "could not be read: "+err.Error())
		}
		if part.FileName() != "" || part.FormName() == "" {
			if file == nil {
				file = b
			}
			continue
		}
		fields[part.FormName()] = string(b)
	}
}

func (a *Kommo) openBody(req Request) (kommoOpenBody, error) {
	var b kommoOpenBody
	boundary, form := isForm(req)
	if !form {
		return b, DecodeJSON(req, &b)
	}
	fields, _, err := formFields(req, boundary)
	if err != nil {
		return b, err
	}
	var errs apperr.Fields
	for k, v := range fields {
		switch k {
		case "file_name":
			b.FileName = v
		case "content_type":
			b.ContentType = v
		case "file_uuid":
			b.FileUUID = v
		case "file_size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				errs.Add("file_size", "must be a whole number of bytes")
			}
			b.FileSize = &n
		case "with_preview":
			wp := v == "true" || v == "1"
			b.WithPreview = &wp
		default:
			errs.Add(k, "unknown field")
		}
	}
	return b, errs.Err()
}

// sessionNumber is Kommo's integer session_id for a session: the first 48
// bits of its UUID (informational; the upload URL carries the session).
func sessionNumber(id string) int64 {
	u, err := uuid.Parse(id)
	if err != nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(u[:8]) >> 16)
}

func uploadURL(req Request, ticket string) string {
	return BaseURL(req) + "/v1.0/sessions/upload/" + ticket
}

func (a *Kommo) open(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	b, err := a.openBody(req)
	if err != nil {
		return Response{}, err
	}
	if b.FileSize == nil {
		return Response{}, apperr.Invalid("file_size", "is required (bytes)")
	}
	o, err := a.Relay.Open(ctx, p, upload.OpenInput{FileName: b.FileName, FileSize: *b.FileSize, ContentType: b.ContentType, FileUUID: b.FileUUID})
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, map[string]any{"max_file_size": o.MaxFileSize, "max_part_size": relay.MaxPart,
		"session_id": sessionNumber(o.Session.ID), "upload_url": uploadURL(req, o.Ticket)})
}

// partBytes is a part's bytes: the raw body, or the file of a form.
func partBytes(req Request) ([]byte, error) {
	if boundary, form := isForm(req); form {
		_, file, err := formFields(req, boundary)
		if err == nil && file == nil {
			err = apperr.Invalid("body", "the form carries no file part")
		}
		return file, err
	}
	return Body(req)
}

func (a *Kommo) part(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	body, err := partBytes(req)
	if err != nil {
		return Response{}, err
	}
	res, err := a.Relay.Put(ctx, p, PathParam(req, "ticket"), body)
	if e, ok := apperr.As(err); ok && e.Extra["next_ticket"] != nil {
		e.Extra["next_url"] = uploadURL(req, e.Extra["next_ticket"].(string))
		delete(e.Extra, "next_ticket")
	}
	if err != nil {
		return Response{}, err
	}
	if res.File != nil {
		return JSON(http.StatusOK, viewKommoFile(BaseURL(req), *res.File))
	}
	return JSON(http.StatusOK, map[string]any{"session_id": sessionNumber(res.Session.ID), "next_url": uploadURL(req, res.Next)})
}

// kommoQuery maps Kommo's list query onto the catalogue's: a size unit is
// a number of bytes (not B, KB…), authors are numbers (-1 a client, 0 a
// robot, else a user), sources are numeric ids. Anexo's files are all a
// robot's and have no source id, so a filter on another author or on a
// source matches nothing (none reports it).
func kommoQuery(raw string) (native string, none bool, err error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return "", false, apperr.Invalid("query", "is malformed")
	}
	var errs apperr.Fields
	unit := int64(1)
	if u := v.Get("filter[size][unit]"); u != "" {
		if unit, err = strconv.ParseInt(u, 10, 64); err != nil || unit < 1 {
			errs.Add("filter[size][unit]", "must be a positive number of bytes")
		}
		v.Del("filter[size][unit]")
	}
	for _, k := range []string{"filter[size][from]", "filter[size][to]"} {
		if s := v.Get(k); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				errs.Add(k, "must be a whole number of units")
				continue
			}
			v.Set(k, strconv.FormatInt(n*unit, 10))
		}
	}
	for _, k := range []string{"filter[created_by]", "filter[updated_by]"} {
		ids := append(v[k], v[k+"[]"]...)
		v.Del(k)
		v.Del(k + "[]")
		for _, id := range ids {
			if _, err := strconv.ParseInt(id, 10, 64); err != nil {
				errs.Add(k, "must be user ids: -1 (a client), 0 (a robot) or a user's id")
			}
		}
		if len(ids) > 0 && !slices.Contains(ids, "0") {
			none = true
		}
	}
	if s := v.Get("filter[source_id]"); s != "" {
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			errs.Add("filter[source_id]", "must be a source id")
		}
		v.Del("filter[source_id]")
		none = true
	}
	return v.Encode(), none, errs.Err()
}

func (a *Kommo) list(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	native, none, err := kommoQuery(req.RawQueryString)
	if err != nil {
		return Response{}, err
	}
	var page catalog.Page
	if none { // known to match nothing: the query is checked, not run
		_, err = catalog.ParseQuery(native, a.Catalog.Clock.Now())
	} else {
		_, page, err = a.Catalog.List(ctx, p, native)
	}
	if err != nil {
		return Response{}, err
	}
	base := BaseURL(req)
	views := make([]kommoFile, 0, len(page.Files))
	for _, f := range page.Files {
		views = append(views, viewKommoFile(base, f))
	}
	links := map[string]Link{"self": {Href: base + "/v1.0/files?" + req.RawQueryString}}
	if page.Cursor != "" {
		v, _ := url.ParseQuery(req.RawQueryString)
		v.Set("cursor", page.Cursor)
		links["next"] = Link{Href: base + "/v1.0/files?" + v.Encode()}
	}
	return JSON(http.StatusOK, map[string]any{"_count": len(views), "_links": links, "_embedded": map[string]any{"files": views}})
}

func (a *Kommo) get(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	f, err := a.Catalog.Get(ctx, p, PathParam(req, "uuid"))
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, viewKommoFile(BaseURL(req), f))
}

func (a *Kommo) versions(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	base := BaseURL(req)
	var views []kommoVersion
	var f files.File
	for cursor := ""; ; {
		var vs []files.Version
		var err error
		f, vs, cursor, err = a.Catalog.Versions(ctx, p, PathParam(req, "uuid"), catalog.MaxLimit, cursor)
		if err != nil {
			return Response{}, err
		}
		for _, v := range vs {
			ext := files.Extension(v.Name)
			views = append(views, kommoVersion{UUID: v.UUID, FileUUID: f.UUID, Type: files.Kind(v.MimeType, ext), Name: v.Name,
				SanitizedName: files.Sanitize(v.Name), Size: v.Size, IsMain: v.UUID == f.VersionUUID, CreatedAt: v.CreatedAt.Unix(),
				CreatedBy: robot, UpdatedAt: v.CreatedAt.Unix(), UpdatedBy: robot, Metadata: kommoMetadata{Extension: ext, MimeType: v.MimeType},
				Previews: viewKommoPreviews(v.Previews),
				Links: map[string]Link{
					"self":     {Href: base + "/v1/files/" + f.UUID + "/versions/" + v.UUID},
					"download": {Href: base + "/v1/files/" + f.UUID + "/download?version_uuid=" + v.UUID},
				}})
		}
		if cursor == "" {
			break
		}
	}
	return JSON(http.StatusOK, map[string]any{"_count": len(views), "_embedded": map[string]any{"versions": views}})
}

// batch serves Kommo's delete and restore: a body of [{"uuid": …}]. Kommo
// answers the files; a file that failed is left out of the answer and
// named, with its problem, in _errors (and the status is 207).
func (a *Kommo) batch(op func(*catalog.Catalog) fileBatchOp) Endpoint {
	return func(ctx context.Context, req Request, p auth.Principal) (Response, error) {
		uuids, err := fileUUIDs(req)
		if err != nil {
			return Response{}, err
		}
		results, err := op(a.Catalog)(ctx, p, uuids)
		if err != nil {
			return Response{}, err
		}
		views := []kommoFile{}
		var failed []map[string]any
		for _, r := range results {
			if r.Err != nil {
				failed = append(failed, map[string]any{"uuid": r.UUID, "error": ProblemDoc(r.Err, req.RequestContext.RequestID)})
			} else if r.File != nil && p.Has(auth.ScopeRead) {
				views = append(views, viewKommoFile(BaseURL(req), *r.File))
			}
		}
		out := map[string]any{"_count": len(views), "_embedded": map[string]any{"files": views}}
		status := http.StatusOK
		if len(failed) > 0 {
			out["_errors"], status = failed, http.StatusMultiStatus
		}
		return JSON(status, out)
	}
}

// kommoRef reads /api/v4/{leads|contacts|companies}/{id}.
func kommoRef(req Request) (entities.Ref, error) {
	t, ok := map[string]entities.Type{"leads": entities.Lead, "contacts": entities.Contact, "companies": entities.Company}[PathParam(req, "entity_type")]
	if !ok {
		return entities.Ref{}, apperr.Invalid("entity_type", "must be leads, contacts or companies")
	}
	code, err := entities.ParseCode("entity_id", PathParam(req, "entity_id"))
	return entities.Ref{Type: t, Code: code}, err
}

type kommoEntityFile struct {
	FileUUID string `json:"file_uuid"`
	ID       int64  `json:"id"`
}

// attach serves PUT (attach) and DELETE (detach) with Kommo's body,
// [{"file_uuid": …}]: media attachments.
func (a *Kommo) attach(op func(*entities.Service) entityBatchOp) Endpoint {
	return func(ctx context.Context, req Request, p auth.Principal) (Response, error) {
		r, err := kommoRef(req)
		if err != nil {
			return Response{}, err
		}
		var body []struct {
			FileUUID string `json:"file_uuid"`
		}
		if err := DecodeJSON(req, &body); err != nil {
			return Response{}, err
		}
		specs := make([]entities.Spec, len(body))
		for i, b := range body {
			specs[i] = entities.Spec{FileUUID: b.FileUUID}
		}
		_, results, err := op(a.Entities)(ctx, p, r, specs)
		if e, ok := apperr.As(err); ok && e.Code == "entity_not_found" && req.RequestContext.HTTP.Method == http.MethodPut {
			// Kommo's leads, contacts and companies exist in the CRM: the
			// first attachment to one enters it in the directory
			if _, _, err := a.Entities.Upsert(ctx, p, r, entities.UpsertInput{}); err != nil {
				return Response{}, err
			}
			_, results, err = op(a.Entities)(ctx, p, r, specs)
		}
		if err != nil {
			return Response{}, err
		}
		views := []kommoEntityFile{}
		var failed []map[string]any
		for _, res := range results {
			switch {
			case res.Err != nil:
				failed = append(failed, map[string]any{"file_uuid": res.Spec.FileUUID, "error": ProblemDoc(res.Err, req.RequestContext.RequestID)})
			case res.File != nil:
				views = append(views, kommoEntityFile{FileUUID: res.File.UUID, ID: res.File.ID})
			}
		}
		out := map[string]any{"_embedded": map[string]any{"files": views}}
		status := http.StatusOK
		if len(failed) > 0 {
			out["_errors"], status = failed, http.StatusMultiStatus
		}
		return JSON(status, out)
	}
}

// maxEntityWalk bounds the files an entity's Kommo listing reads to page by
// before_id (Kommo pages by file id; the catalogue by creation time).
const maxEntityWalk = 10 * catalog.MaxLimit

// entityFiles serves GET /api/v4/{entity}/{id}/files: the entity's media
// tab, newest id first, paged by limit (default 50, at most 250) and
// before_id.
func (a *Kommo) entityFiles(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	r, err := kommoRef(req)
	if err != nil {
		return Response{}, err
	}
	v, _ := url.ParseQuery(req.RawQueryString)
	var errs apperr.Fields
	limit, before := int64(50), int64(0)
	for k := range v {
		switch k {
		case "limit":
			if n, err := strconv.ParseInt(v.Get(k), 10, 64); err != nil || n < 1 || n > catalog.MaxLimit {
				errs.Add(k, "must be an integer from 1 to 250")
			} else {
				limit = n
			}
		case "before_id":
			if n, err := strconv.ParseInt(v.Get(k), 10, 64); err != nil || n < 1 {
				errs.Add(k, "must be a file id")
			} else {
				before = n
			}
		default:
			errs.Add(k, "unknown query parameter")
		}
	}
	if err := errs.Err(); err != nil {
		return Response{}, err
	}
	var all []files.File
	for cursor := ""; ; {
		q := "limit=250"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		_, page, err := a.Catalog.ListEntity(ctx, p, r, q)
		if err != nil {
			return Response{}, err
		}
		all = append(all, page.Files...)
		if cursor = page.Cursor; cursor == "" {
			break
		}
		if len(all) >= maxEntityWalk {
			return Response{}, apperr.New(apperr.KindUnprocessable, "too_many_files",
				"this entity has more files than before_id paging reads; list them with GET /v1/entities/{type}/{id}/files, which pages by cursor")
		}
	}
	slices.SortFunc(all, func(x, y files.File) int { return int(y.ID - x.ID) })
	out := []kommoEntityFile{}
	for _, f := range all {
		if (before == 0 || f.ID < before) && int64(len(out)) < limit {
			out = append(out, kommoEntityFile{FileUUID: f.UUID, ID: f.ID})
		}
	}
	base := BaseURL(req)
	path := base + "/api/v4/" + PathParam(req, "entity_type") + "/" + PathParam(req, "entity_id") + "/files"
	links := map[string]Link{"self": {Href: path + "?" + req.RawQueryString}}
	if n := len(out); int64(n) == limit && slices.ContainsFunc(all, func(f files.File) bool { return f.ID < out[n-1].ID }) {
		links["next"] = Link{Href: path + "?" + url.Values{"limit": {strconv.FormatInt(limit, 10)}, "before_id": {strconv.FormatInt(out[n-1].ID, 10)}}.Encode()}
	}
	return JSON(http.StatusOK, map[string]any{"_links": links, "_embedded": map[string]any{"files": out}})
}
