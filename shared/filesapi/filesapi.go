// Package filesapi is the HTTP face of the file catalogue (the files Lambda).
package filesapi

import (
	"context"
	"net/http"

	"github.com/anexo/anexo/shared/api"
	"github.com/anexo/anexo/shared/auth"
	"github.com/anexo/anexo/shared/catalog"
)

// API serves catalogue routes.
type API struct {
	Svc *catalog.Service
}

// Routes are served by the files function.
func (a API) Routes() api.Routes {
	return api.Routes{"GET /v1/files/{uuid}": a.get, "GET /v1/files/{uuid}/download": a.download}
}

func (a API) get(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	f, err := a.Svc.Get(ctx, p, api.PathParam(req, "uuid"))
	if err != nil {
		return api.Response{}, err
	}
	return api.JSON(http.StatusOK, api.ViewFile(f))
}

func (a API) download(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	q := req.QueryStringParameters
	url, err := a.Svc.DownloadURL(ctx, p, api.PathParam(req, "uuid"), q["version_uuid"], q["disposition"] == "inline")
	if err != nil {
		return api.Response{}, err
	}
	return api.Redirect(url)
}
