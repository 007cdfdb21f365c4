package httpapi

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/links"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/inbound/openapi"
)

// Files serves the file catalogue (the files function).
type Files struct {
	Catalog *catalog.Catalog
}

// Routes implements Feature.
func (a *Files) Routes() []Route {
	route := func(method, path string, scope auth.Scope, h Endpoint) Route {
		return Route{Method: method, Path: path, Function: lambdas.Files, Scope: scope, Handle: h}
	}
	doc := route("GET", "/v1/openapi.json", "", a.openapi)
	doc.Public = true
	return []Route{
		route("GET", "/v1/files", auth.ScopeRead, a.list),
		route("GET", "/v1/files/{uuid}", auth.ScopeRead, a.get),
		route("GET", "/v1/files/{uuid}/download", auth.ScopeRead, a.download),
		route("GET", "/v1/files/{uuid}/versions", auth.ScopeRead, a.versions),
		route("GET", "/v1/files/{uuid}/versions/{version_uuid}", auth.ScopeRead, a.version),
		route("POST", "/v1/files/{uuid}/versions/{version_uuid}/promote", auth.ScopeWrite, a.promote),
		route("GET", "/v1/usage", auth.ScopeRead, a.usage),
		doc,
		route("DELETE", "/v1/files", auth.ScopeDelete, a.batch(a.Catalog.Trash)),
		route("POST", "/v1/files/restore", auth.ScopeDelete, a.batch(a.Catalog.Restore)),
		route("POST", "/v1/files/purge", auth.ScopeDelete, a.batch(a.Catalog.Purge)),
	}
}

func (a *Files) get(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	f, err := a.Catalog.Get(ctx, p, PathParam(req, "uuid"))
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, ViewFile(f))
}

func (a *Files) download(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	q := req.QueryStringParameters
	switch q["disposition"] {
	case "", "attachment", "inline":
	default:
		return Response{}, apperr.Invalid("disposition", "must be attachment or inline")
	}
	url, expires, err := a.Catalog.DownloadURL(ctx, p, PathParam(req, "uuid"), q["version_uuid"], q["disposition"] == "inline")
	if err != nil {
		return Response{}, err
	}
	if acceptsJSON(Header(req, "Accept")) {
		// a browser's fetch cannot read a redirect's Location (an opaque
		// answer): the URL as JSON
		r, err := JSON(http.StatusOK, downloadLink{URL: url, ExpiresAt: expires})
		if err == nil {
			r.Headers["Cache-Control"] = "no-store"
		}
		return r, err
	}
	return Redirect(url)
}

// downloadLink is the download route's answer to Accept: application/json.
type downloadLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// acceptsJSON: an Accept header that names application/json (not only
// through */*), with a quality above 0.
func acceptsJSON(accept string) bool {
	for _, r := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(r))
		if err != nil || mt != "application/json" {
			continue
		}
		if q, err := strconv.ParseFloat(params["q"], 64); params["q"] == "" || err == nil && q > 0 {
			return true
		}
	}
	return false
}

func (a *Files) list(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	q, page, err := a.Catalog.List(ctx, p, req.RawQueryString)
	if err != nil {
		return Response{}, err
	}
	views := make([]FileView, len(page.Files))
	for i, f := range page.Files {
		views[i] = ViewListed(f, q.WithPreviews)
	}
	return ListPage("/v1/files", req.RawQueryString, q.Limit, page.Cursor, "files", views)
}

type versionView struct {
	files.Version
	IsMain bool      `json:"is_main"`
	Links  links.Set `json:"_links"`
}

func viewVersion(f files.File, v files.Version) versionView {
	return versionView{Version: v, IsMain: v.UUID == f.VersionUUID, Links: links.Version(f.UUID, v.UUID)}
}

func (a *Files) versions(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	v, _ := url.ParseQuery(req.RawQueryString)
	var errs apperr.Fields
	for k := range v {
		if k != "limit" && k != "cursor" {
			errs.Add(k, "unknown query parameter")
		}
	}
	limit := catalog.DefaultLimit
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > catalog.MaxLimit {
			errs.Add("limit", "must be an integer from 1 to 250")
		}
		limit = n
	}
	if err := errs.Err(); err != nil {
		return Response{}, err
	}
	f, vs, next, err := a.Catalog.Versions(ctx, p, PathParam(req, "uuid"), limit, v.Get("cursor"))
	if err != nil {
		return Response{}, err
	}
	views := make([]versionView, len(vs))
	for i, x := range vs {
		views[i] = viewVersion(f, x)
	}
	var nextp *string
	if next != "" {
		nextp = &next
	}
	return JSON(http.StatusOK, map[string]any{
		"_page":     map[string]any{"limit": limit, "count": len(views), "next_cursor": nextp},
		"_embedded": map[string]any{"versions": views},
	})
}

func (a *Files) version(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	f, v, err := a.Catalog.Version(ctx, p, PathParam(req, "uuid"), PathParam(req, "version_uuid"))
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, viewVersion(f, v))
}

func (a *Files) promote(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	f, err := a.Catalog.Promote(ctx, p, PathParam(req, "uuid"), PathParam(req, "version_uuid"))
	if err != nil {
		return Response{}, err
	}
	if !p.Has(auth.ScopeRead) { // promote needs files:write; the file's metadata, files:read
		return NoContent()
	}
	return JSON(http.StatusOK, ViewFile(f))
}

// openapi serves the OpenAPI document (a public route).
func (a *Files) openapi(ctx context.Context, req Request, _ auth.Principal) (Response, error) {
	doc, err := openapi.JSON()
	if err != nil {
		return Response{}, err
	}
	return Response{StatusCode: http.StatusOK, Body: string(doc),
		Headers: map[string]string{"Content-Type": "application/json", "Cache-Control": "public, max-age=300"}}, nil
}

type accountUsageView struct {
	UsedBytes      int64     `json:"used_bytes"`
	TrashedBytes   int64     `json:"trashed_bytes"`
	QuotaBytes     *int64    `json:"quota_bytes"`
	AvailableBytes *int64    `json:"available_bytes"`
	FileCount      int64     `json:"file_count"`
	VersionCount   int64     `json:"version_count"`
	At             time.Time `json:"at"`
}

func (a *Files) usage(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	u, err := a.Catalog.Usage(ctx, p)
	if err != nil {
		return Response{}, err
	}
	v := accountUsageView{UsedBytes: u.UsedBytes, TrashedBytes: u.TrashedBytes, FileCount: u.FileCount, VersionCount: u.VersionCount, At: time.Now().UTC()}
	if u.QuotaBytes > 0 {
		avail := max(0, u.QuotaBytes-u.UsedBytes)
		v.QuotaBytes, v.AvailableBytes = &u.QuotaBytes, &avail
	}
	return JSON(http.StatusOK, v)
}

type fileBatchOp func(ctx context.Context, p auth.Principal, uuids []string) ([]catalog.Result, error)

// batch serves trash, restore and purge: a body of [{"uuid": …}], one
// result per file; 200 when every file succeeded, 207 otherwise.
func (a *Files) batch(op fileBatchOp) Endpoint {
	return func(ctx context.Context, req Request, p auth.Principal) (Response, error) {
		uuids, err := fileUUIDs(req)
		if err != nil {
			return Response{}, err
		}
		results, err := op(ctx, p, uuids)
		if err != nil {
			return Response{}, err
		}
		var out multiStatus
		for _, r := range results {
			out.add(req, p, map[string]any{"uuid": r.UUID, "status": r.Status}, r.File, r.Err)
		}
		return JSON(out.status(), map[string]any{"_embedded": map[string]any{"files": out.list()}})
	}
}

// fileUUIDs reads a batch body of files, [{"uuid": …}].
func fileUUIDs(req Request) ([]string, error) {
	var body []struct {
		UUID string `json:"uuid"`
	}
	if err := DecodeJSON(req, &body); err != nil {
		return nil, err
	}
	uuids := make([]string, len(body))
	for i, b := range body {
		uuids[i] = b.UUID
	}
	return uuids, nil
}
