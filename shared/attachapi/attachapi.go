// Package attachapi is the HTTP face of the entity directory and of
// attachments (the attachments Lambda): the native /v1/entities routes, a
// file's usages, and ONLYOFFICE's attach route.
package attachapi

import (
	"context"
	"net/http"
	"time"

	"github.com/anexo/anexo/shared/api"
	"github.com/anexo/anexo/shared/auth"
	"github.com/anexo/anexo/shared/catalog"
	"github.com/anexo/anexo/shared/entities"
	"github.com/anexo/anexo/shared/upload"
)

// API serves the attachments routes.
type API struct {
	Entities *entities.Service
	Catalog  *catalog.Catalog
}

// Routes are served by the attachments function.
func (a API) Routes() api.Routes {
	return api.Routes{
		"PUT /v1/entities/{entity_type}/{entity_id}":          a.upsert,
		"GET /v1/entities/{entity_type}/{entity_id}":          a.get,
		"POST /v1/entities/{entity_type}/{entity_id}/files":   a.attach,
		"DELETE /v1/entities/{entity_type}/{entity_id}/files": a.detach,
		"GET /v1/entities/{entity_type}/{entity_id}/files":    a.list,
		"GET /v1/files/{uuid}/usages":                         a.usages,
		OnlyofficeRoute:                                       a.onlyoffice,
	}
}

// Envelopes wrap errors of the compatibility route as its clients expect.
func (a API) Envelopes() map[string]api.Envelope {
	return map[string]api.Envelope{OnlyofficeRoute: onlyofficeError}
}

// ref reads {entity_type}/{entity_id} from the path.
func ref(req api.Request) (entities.Ref, error) {
	t, err := entities.ParseType("entity_type", api.PathParam(req, "entity_type"))
	if err != nil {
		return entities.Ref{}, err
	}
	return entities.ParseRef(t, "entity_id", api.PathParam(req, "entity_id"))
}

// EntityView is the public JSON of a directory entry.
type EntityView struct {
	entities.Entity
	Links map[string]api.Link `json:"_links"`
}

// ViewEntity renders an entity with its links.
func ViewEntity(e entities.Entity) EntityView {
	self := "/v1/entities/" + string(e.Type) + "/" + e.UUID
	return EntityView{Entity: e, Links: map[string]api.Link{"self": {Href: self}, "files": {Href: self + "/files"}}}
}

type upsertBody struct {
	Title *string `json:"title"`
	Code  *int64  `json:"code"`
}

func (a API) upsert(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	r, err := ref(req)
	if err != nil {
		return api.Response{}, err
	}
	var b upsertBody
	if err := api.DecodeJSON(req, &b); err != nil {
		return api.Response{}, err
	}
	e, created, err := a.Entities.Upsert(ctx, p, r, entities.UpsertInput{Title: b.Title, Code: b.Code})
	if err != nil {
		return api.Response{}, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return api.JSON(status, ViewEntity(e))
}

func (a API) get(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	r, err := ref(req)
	if err != nil {
		return api.Response{}, err
	}
	e, err := a.Entities.Get(ctx, p, r)
	if err != nil {
		return api.Response{}, err
	}
	return api.JSON(http.StatusOK, ViewEntity(e))
}

// attachBody lists files by uuid (media attachments) and/or with a kind.
type attachBody struct {
	FileUUIDs []string        `json:"file_uuids"`
	Files     []entities.Spec `json:"files"`
}

func (b attachBody) specs() []entities.Spec {
	out := make([]entities.Spec, 0, len(b.FileUUIDs)+len(b.Files))
	for _, u := range b.FileUUIDs {
		out = append(out, entities.Spec{FileUUID: u})
	}
	return append(out, b.Files...)
}

// AttachmentView is one attachment as the API shows it.
type AttachmentView struct {
	FileUUID    string     `json:"file_uuid"`
	Kind        string     `json:"kind"`
	NoteID      string     `json:"note_id,omitempty"`
	FieldID     string     `json:"field_id,omitempty"`
	VersionUUID string     `json:"version_uuid,omitempty"`
	AttachedAt  *time.Time `json:"attached_at,omitempty"`
	AttachedBy  string     `json:"attached_by,omitempty"`
}

// ViewAttachment renders an attachment.
func ViewAttachment(at entities.Attachment) AttachmentView {
	v := AttachmentView{FileUUID: at.FileUUID, Kind: string(at.Kind), VersionUUID: at.VersionUUID, AttachedBy: at.AttachedBy}
	if !at.AttachedAt.IsZero() {
		t := at.AttachedAt
		v.AttachedAt = &t
	}
	switch at.Kind {
	case entities.KindNote:
		v.NoteID = at.RefID
	case entities.KindField:
		v.FieldID = at.RefID
	}
	return v
}

type batchOp func(ctx context.Context, p auth.Principal, r entities.Ref, specs []entities.Spec) (entities.Entity, []entities.Result, error)

func (a API) attach(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	return a.batch(ctx, req, p, a.Entities.Attach)
}

func (a API) detach(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	return a.batch(ctx, req, p, a.Entities.Detach)
}

// batch runs attach or detach: one result per requested attachment; 200
// when all succeeded, 207 otherwise.
func (a API) batch(ctx context.Context, req api.Request, p auth.Principal, op batchOp) (api.Response, error) {
	r, err := ref(req)
	if err != nil {
		return api.Response{}, err
	}
	var b attachBody
	if err := api.DecodeJSON(req, &b); err != nil {
		return api.Response{}, err
	}
	e, results, err := op(ctx, p, r, b.specs())
	if err != nil {
		return api.Response{}, err
	}
	status := http.StatusOK
	items := make([]map[string]any, len(results))
	for i, res := range results {
		v := ViewAttachment(entities.Attachment{FileUUID: res.Spec.FileUUID, Kind: res.Spec.Kind, RefID: res.Spec.RefID(), VersionUUID: res.Spec.VersionUUID})
		if res.Attachment != nil {
			v = ViewAttachment(*res.Attachment)
		}
		item := map[string]any{"attachment": v, "status": res.Status}
		if res.File != nil && p.Has(auth.ScopeRead) { // file metadata needs files:read
			item["file"] = api.ViewFile(*res.File)
		}
		if res.Err != nil {
			item["error"] = api.ProblemDoc(res.Err, req.RequestContext.RequestID)
			status = http.StatusMultiStatus
		}
		items[i] = item
	}
	return api.JSON(status, map[string]any{"entity": ViewEntity(e), "_embedded": map[string]any{"attachments": items}})
}

// listItem is a file on an entity's list, with how it is attached.
type listItem struct {
	api.FileView
	Attachments []AttachmentView `json:"attachments"`
}

func (a API) list(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	r, err := ref(req)
	if err != nil {
		return api.Response{}, err
	}
	q, page, err := a.Catalog.ListEntity(ctx, p, r, req.RawQueryString)
	if err != nil {
		return api.Response{}, err
	}
	items := make([]listItem, len(page.Files))
	for i, f := range page.Files {
		items[i] = listItem{FileView: api.ViewFile(f), Attachments: []AttachmentView{}}
		for _, at := range page.Result.Attachments[f.UUID] {
			items[i].Attachments = append(items[i].Attachments, ViewAttachment(at))
		}
	}
	path := "/v1/entities/" + api.PathParam(req, "entity_type") + "/" + api.PathParam(req, "entity_id") + "/files"
	return api.ListPage(path, req.RawQueryString, q.Limit, page.Cursor, "files", items)
}

type usageView struct {
	AttachmentView
	Entity EntityView `json:"entity"`
}

func (a API) usages(ctx context.Context, req api.Request, p auth.Principal) (api.Response, error) {
	u := api.PathParam(req, "uuid")
	if err := upload.ValidUUID("uuid", u); err != nil {
		return api.Response{}, err
	}
	f, us, err := a.Entities.Usages(ctx, p, u)
	if err != nil {
		return api.Response{}, err
	}
	views := make([]usageView, len(us))
	for i, x := range us {
		views[i] = usageView{AttachmentView: ViewAttachment(x.Attachment), Entity: ViewEntity(x.Entity)}
	}
	return api.JSON(http.StatusOK, map[string]any{"file": api.ViewFile(f), "_embedded": map[string]any{"usages": views}})
}
