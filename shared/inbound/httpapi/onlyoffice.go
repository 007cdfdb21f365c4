package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/entities"
)

// onlyofficeBody is the seed's body: fileids, and optionally the path's
// entityType and entityid repeated (the seed lists them as body fields).
type onlyofficeBody struct {
	FileIDs    []int64          `json:"fileids"`
	EntityType *string          `json:"entityType"`
	EntityID   *json.RawMessage `json:"entityid"`
}

// ONLYOFFICE's user reference (CreateBy, UpdatedBy).
type ooUser struct {
	ID          string `json:"Id"`
	DisplayName string `json:"DisplayName"`
	Title       string `json:"Title"`
	AvatarSmall string `json:"AvatarSmall"`
	ProfileURL  string `json:"ProfileUrl"`
}

type ooCategory struct {
	ImagePath   string `json:"ImagePath"`
	Title       string `json:"Title"`
	Description string `json:"Description"`
	Color       string `json:"Color"`
	SortOrder   int32  `json:"SortOrder"`
	ID          int32  `json:"ID"`
}

type ooContact struct {
	SmallFotoURL  string   `json:"SmallFotoUrl"`
	MediumFotoURL string   `json:"MediumFotoUrl"`
	DisplayName   string   `json:"DisplayName"`
	IsCompany     bool     `json:"IsCompany"`
	AccessList    []ooUser `json:"AccessList"`
	IsPrivate     bool     `json:"IsPrivate"`
	IsShared      bool     `json:"IsShared"`
	ShareType     int32    `json:"ShareType"`
	Currency      any      `json:"Currency"`
	CanEdit       bool     `json:"CanEdit"`
	CanDelete     bool     `json:"CanDelete"`
	ID            int64    `json:"ID"`
}

type ooEntity struct {
	EntityType  string `json:"EntityType"`
	EntityID    int64  `json:"EntityId"`
	EntityTitle string `json:"EntityTitle"`
}

type ooFile struct {
	Name      string  `json:"Name,omitempty"` // these three: files:read only
	UpdatedBy *ooUser `json:"UpdatedBy,omitempty"`
	Updated   string  `json:"Updated,omitempty"`
	Location  string  `json:"Location"`
	ID        int64   `json:"ID"`
}

// ooEvent is the relationship event of the seed's 200 response.
type ooEvent struct {
	CreateBy ooUser     `json:"CreateBy"`
	Created  string     `json:"Created"`
	Content  string     `json:"Content"`
	Category ooCategory `json:"Category"`
	Contact  *ooContact `json:"Contact"`
	Entity   ooEntity   `json:"Entity"`
	CanEdit  bool       `json:"CanEdit"`
	Files    []ooFile   `json:"Files"`
	ID       int64      `json:"ID"`
}

// ooTime formats times as ONLYOFFICE's API does (ISO 8601 with offset).
func ooTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000+00:00") }

// filesUploadCategory is ONLYOFFICE's system history category for files.
var filesUploadCategory = ooCategory{Title: "Files upload", Description: "Files attached to the entity", ImagePath: "", Color: "", SortOrder: 0, ID: -2}

func user(p auth.Principal) ooUser {
	return ooUser{ID: p.TokenID, DisplayName: p.Name, Title: "", AvatarSmall: "", ProfileURL: ""}
}

// onlyoffice is ONLYOFFICE CRM's "attach files to the entity".
func (a *Entities) onlyoffice(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	typ := entities.Type(strings.ToLower(PathParam(req, "entityType")))
	if !slices.Contains(entities.OnlyofficeTypes, typ) {
		return Response{}, apperr.Invalid("entityType", "must be contact, opportunity or case")
	}
	code, err := entities.ParseCode("entityid", PathParam(req, "entityid"))
	if err != nil {
		return Response{}, err
	}
	var b onlyofficeBody
	if err := DecodeJSON(req, &b); err != nil {
		return Response{}, err
	}
	if b.EntityType != nil && !strings.EqualFold(*b.EntityType, string(typ)) {
		return Response{}, apperr.Invalid("entityType", "differs from the entity type in the path")
	}
	if b.EntityID != nil && strings.Trim(string(*b.EntityID), `"`) != PathParam(req, "entityid") {
		return Response{}, apperr.Invalid("entityid", "differs from the entity id in the path")
	}
	ev, err := a.Entities.AttachByIDs(ctx, p, typ, code, b.FileIDs)
	if err != nil {
		return Response{}, err
	}
	out := ooEvent{CreateBy: user(p), Created: ooTime(ev.Created), Content: "", Category: filesUploadCategory,
		Entity:  ooEntity{EntityType: string(typ), EntityID: ev.Entity.Code, EntityTitle: ev.Entity.Title},
		CanEdit: p.Has(auth.ScopeWrite), Files: []ooFile{}, ID: ev.ID}
	if typ == entities.Contact {
		out.Contact = &ooContact{DisplayName: ev.Entity.Title, AccessList: []ooUser{}, CanEdit: p.Has(auth.ScopeWrite), ID: ev.Entity.Code}
	}
	for _, f := range ev.Files {
		of := ooFile{Location: "/v1/files/" + f.UUID + "/download", ID: f.ID}
		if p.Has(auth.ScopeRead) { // names and editors are file metadata
			of.Name, of.UpdatedBy, of.Updated = f.Name, &ooUser{DisplayName: f.UpdatedBy}, ooTime(f.UpdatedAt)
		}
		out.Files = append(out.Files, of)
	}
	return JSON(http.StatusOK, map[string]any{"count": 1, "response": out, "status": 0, "statusCode": http.StatusOK})
}

// onlyofficeError wraps a problem in ONLYOFFICE's result envelope.
func onlyofficeError(status int, problem map[string]any) Response {
	resp, _ := JSON(status, map[string]any{"count": 0, "response": nil, "status": 1, "statusCode": status,
		"error": map[string]any{"message": problem["detail"], "type": problem["code"], "field": problem["field"], "request_id": problem["request_id"]}})
	return resp
}
