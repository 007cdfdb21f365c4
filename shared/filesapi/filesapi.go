// Package filesapi is the HTTP face of the file catalogue (the files Lambda).
package filesapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/anexo/anexo/shared/api"
	"github.com/anexo/anexo/shared/apperr"
	"github.com/anexo/anexo/shared/auth"
	"github.com/anexo/anexo/shared/catalog"
	"github.com/anexo/anexo/shared/files"
	"github.com/anexo/anexo/shared/openapi"
)

// API serves catalogue routes.
type API struct {
	Catalog *catalog.Catalog
}

// Routes are served by the files function.
func (a API) Routes() api.Routes {
	return api.Routes{
		"GET /v1/files":                                         a.list,
		"GET /v1/files/{uuid}":                                  a.get,
		"GET /v1/files/{uuid}/download":                         a.download,
		"GET /v1/files/{uuid}/versions":                         a.versions,
		"GET /v1/files/{uuid}/versions/{version_uuid}":          a.version,
		"POST /v1/files/{uuid}/versions/{version_uuid}/promote": a.promote,
		"GET /v1/usage":                                         a.usage,
		"GET /v1/openapi.json":                                  a.openapi,
		"DELETE /v1/files":                                      a.batch(a.Catalog.Trash),
		"POST /v1/files/restore":                                a.batch(a.Catalog.Restore),
		"POST /v1/files/purge":                                  a.batch(a.Catalog.Purge),
	}
}

func (a API) get(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	f, err := a.Catalog.Get(ctx, p, api.PathParam(req, "uuid"))
	if err != nil {
		return api.Response{}, err
	}
	return api.JSON(http.StatusOK, api.ViewFile(f))
}

func (a API) download(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	q := req.QueryStringParameters
	switch q["disposition"] {
	case "", "attachment", "inline":
	default:
		return api.Response{}, apperr.Invalid("disposition", "must be attachment or inline")
	}
	url, err := a.Catalog.DownloadURL(ctx, p, api.PathParam(req, "uuid"), q["version_uuid"], q["disposition"] == "inline")
	if err != nil {
		return api.Response{}, err
	}
	return api.Redirect(url)
}

func (a API) list(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	q, page, err := a.Catalog.List(ctx, p, req.RawQueryString)
	if err != nil {
		return api.Response{}, err
	}
	views := make([]api.FileView, len(page.Files))
	for i, f := range page.Files {
		views[i] = api.ViewFile(f)
	}
	return api.ListPage("/v1/files", req.RawQueryString, q.Limit, page.Cursor, "files", views)
}

type versionView struct {
	files.Version
	IsMain bool                `json:"is_main"`
	Links  map[string]api.Link `json:"_links"`
}

func viewVersion(f files.File, v files.Version) versionView {
	self := "/v1/files/" + f.UUID + "/versions/" + v.UUID
	return versionView{Version: v, IsMain: v.UUID == f.VersionUUID, Links: map[string]api.Link{
		"self": {Href: self}, "download": {Href: "/v1/files/" + f.UUID + "/download?version_uuid=" + v.UUID},
		"promote": {Href: self + "/promote"}}}
}

func (a API) versions(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
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
		return api.Response{}, err
	}
	f, vs, next, err := a.Catalog.Versions(ctx, p, api.PathParam(req, "uuid"), limit, v.Get("cursor"))
	if err != nil {
		return api.Response{}, err
	}
	views := make([]versionView, len(vs))
	for i, x := range vs {
		views[i] = viewVersion(f, x)
	}
	var nextp *string
	if next != "" {
		nextp = &next
	}
	return api.JSON(http.StatusOK, map[string]any{
		"_page":     map[string]any{"limit": limit, "count": len(views), "next_cursor": nextp},
		"_embedded": map[string]any{"versions": views},
	})
}

func (a API) version(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	f, v, err := a.Catalog.Version(ctx, p, api.PathParam(req, "uuid"), api.PathParam(req, "version_uuid"))
	if err != nil {
		return api.Response{}, err
	}
	return api.JSON(http.StatusOK, viewVersion(f, v))
}

func (a API) promote(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	f, err := a.Catalog.Promote(ctx, p, api.PathParam(req, "uuid"), api.PathParam(req, "version_uuid"))
	if err != nil {
		return api.Response{}, err
	}
	if !p.Has(auth.ScopeRead) { // promote needs files:write; the file's metadata, files:read
		return api.NoContent()
	}
	return api.JSON(http.StatusOK, api.ViewFile(f))
}

// openapi serves the OpenAPI document (a public route).
func (a API) openapi(ctx context.Context, req api.Request, _ auth.Principal) (api.Response, error) {
	doc, err := openapi.JSON()
	if err != nil {
		return api.Response{}, err
	}
	return api.Response{StatusCode: http.StatusOK, Body: string(doc),
		Headers: map[string]string{"Content-Type": "application/json", "Cache-Control": "public, max-age=300"}}, nil
}

type usageView struct {
	UsedBytes      int64     `json:"used_bytes"`
	TrashedBytes   int64     `json:"trashed_bytes"`
	QuotaBytes     *int64    `json:"quota_bytes"`
	AvailableBytes *int64    `json:"available_bytes"`
	FileCount      int64     `json:"file_count"`
	VersionCount   int64     `json:"version_count"`
	At             time.Time `json:"at"`
}

func (a API) usage(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	u, err := a.Catalog.Usage(ctx, p)
	if err != nil {
		return api.Response{}, err
	}
	v := usageView{UsedBytes: u.UsedBytes, TrashedBytes: u.TrashedBytes, FileCount: u.FileCount, VersionCount: u.VersionCount, At: time.Now().UTC()}
	if u.QuotaBytes > 0 {
		avail := max(0, u.QuotaBytes-u.UsedBytes)
		v.QuotaBytes, v.AvailableBytes = &u.QuotaBytes, &avail
	}
	return api.JSON(http.StatusOK, v)
}

type batchOp func(ctx context.Context, p auth.Principal, uuids []string) ([]catalog.Result, error)

// batch serves trash, restore and purge: a body of [{"uuid": …}], one
// result per file; 200 when every file succeeded, 207 otherwise.
func (a API) batch(op batchOp) api.Endpoint {
	return func(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
		var body []struct {
			UUID string `json:"uuid"`
		}
		if err := api.DecodeJSON(req, &body); err != nil {
			return api.Response{}, err
		}
		uuids := make([]string, len(body))
		for i, b := range body {
			uuids[i] = b.UUID
		}
		results, err := op(ctx, p, uuids)
		if err != nil {
			return api.Response{}, err
		}
		status := http.StatusOK
		items := make([]map[string]any, len(results))
		for i, r := range results {
			item := map[string]any{"uuid": r.UUID, "status": r.Status}
			if r.File != nil && p.Has(auth.ScopeRead) { // file metadata needs files:read
				item["file"] = api.ViewFile(*r.File)
			}
			if r.Err != nil {
				item["error"] = api.ProblemDoc(r.Err, req.RequestContext.RequestID)
				status = http.StatusMultiStatus
			}
			items[i] = item
		}
		return api.JSON(status, map[string]any{"_embedded": map[string]any{"files": items}})
	}
}
