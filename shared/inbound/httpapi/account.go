package httpapi

import (
	"context"
	"net/http"

	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// Account serves the caller's account settings (the files function).
type Account struct {
	Catalog *catalog.Catalog
	Current SecretCheck // changing settings takes the token's current secret
}

// Routes implements Feature.
func (a *Account) Routes() []Route {
	return []Route{
		{Method: "GET", Path: "/v1/account", Function: lambdas.Files, Scope: auth.ScopeRead, Handle: a.get},
		{Method: "PATCH", Path: "/v1/account", Function: lambdas.Files, Scope: auth.ScopeTokens, Handle: currentOnly(a.Current, a.update)},
	}
}

// accountView is GET /v1/account's answer.
type accountView struct {
	ID       string         `json:"id"`
	Settings files.Settings `json:"settings"`
}

func (a *Account) get(ctx context.Context, _ Request, p auth.Principal) (Response, error) {
	st, err := a.Catalog.Settings(ctx, p)
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, accountView{ID: p.AccountID, Settings: st})
}

func (a *Account) update(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	var in struct {
		Settings catalog.SettingsPatch `json:"settings"`
	}
	if err := DecodeJSON(req, &in); err != nil {
		return Response{}, err
	}
	st, err := a.Catalog.UpdateSettings(ctx, p, in.Settings)
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, accountView{ID: p.AccountID, Settings: st})
}
