package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/anexo/anexo/shared/base/ids"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/links"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// Entities serves the entity directory and attachments (the attachments
// function): the native /v1/entities routes, a file's usages, and
// ONLYOFFICE's attach route (onlyoffice.go).
type Entities struct {
	Entities *entities.Service
	Catalog  *catalog.Catalog
}

// Routes implements Feature.
func (a *Entities) Routes() []Route {
	const entity = "/v1/entities/{entity_type}/{entity_id}"
	attachments := func(method, path string, scope auth.Scope, h Endpoint) Route {
		return Route{Method: method, Path: path, Function: lambdas.Attachments, Scope: scope, Handle: h}
	}
	oo := attachments("POST", "/api/2.0/crm/{entityType}/{entityid}/files", auth.ScopeWrite, a.onlyoffice)
	oo.Envelope = onlyofficeError // errors in ONLYOFFICE's result envelope
	return []Route{
		attachments("PUT", entity, auth.ScopeWrite, a.upsert),
		attachments("GET", entity, auth.ScopeRead, a.get),
		attachments("POST", entity+"/files", auth.ScopeWrite, a.attach),
		attachments("DELETE", entity+"/files", auth.ScopeWrite, a.detach),
		attachments("GET", entity+"/files", auth.ScopeRead, a.list),
		attachments("GET", "/v1/files/{uuid}/usages", auth.ScopeRead, a.usages),
		oo,
	}
}

// ref reads {entity_type}/{entity_id} from the path.
func ref(req Request) (entities.Ref, error) {
	t, err := entities.ParseType("entity_type", PathParam(req, "entity_type"))
	if err != nil {
		return entities.Ref{}, err
	}
	return entities.ParseRef(t, "entity_id", PathParam(req, "entity_id"))
}

// EntityView is the public JSON of a directory entry.
type EntityView struct {
	entities.Entity
	Links links.Set `json:"_links"`
}

// ViewEntity renders an entity with its links.
func ViewEntity(e entities.Entity) EntityView {
	return EntityView{Entity: e, Links: links.Entity(string(e.Type), e.UUID)}
}

type upsertBody struct {
	Title *string `json:"title"`
	Code  *int64  `json:"code"`
}

func (a *Entities) upsert(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	r, err := ref(req)
	if err != nil {
		return Response{}, err
	}
	var b upsertBody
	if err := DecodeJSON(req, &b); err != nil {
		return Response{}, err
	}
	e, created, err := a.Entities.Upsert(ctx, p, r, entities.UpsertInput{Title: b.Title, Code: b.Code})
	if err != nil {
		return Response{}, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return JSON(status, ViewEntity(e))
}

func (a *Entities) get(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	r, err := ref(req)
	if err != nil {
		return Response{}, err
	}
	e, err := a.Entities.Get(ctx, p, r)
	if err != nil {
		return Response{}, err
	}
	return JSON(http.StatusOK, ViewEntity(e))
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

type entityBatchOp func(ctx context.Context, p auth.Principal, r entities.Ref, specs []entities.Spec) (entities.Entity, []entities.Result, error)

func (a *Entities) attach(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	return a.batch(ctx, req, p, a.Entities.Attach)
}

func (a *Entities) detach(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	return a.batch(ctx, req, p, a.Entities.Detach)
}

// batch runs attach or detach: one result per requested attachment; 200
// when all succeeded, 207 otherwise.
func (a *Entities) batch(ctx context.Context, req Request, p auth.Principal, op entityBatchOp) (Response, error) {
	r, err := ref(req)
	if err != nil {
		return Response{}, err
	}
	var b attachBody
	if err := DecodeJSON(req, &b); err != nil {
		return Response{}, err
	}
	e, results, err := op(ctx, p, r, b.specs())
	if err != nil {
		return Response{}, err
	}
	var out multiStatus
	for _, res := range results {
		v := ViewAttachment(entities.Attachment{FileUUID: res.Spec.FileUUID, Kind: res.Spec.Kind, RefID: res.Spec.RefID(), VersionUUID: res.Spec.VersionUUID})
		if res.Attachment != nil {
			v = ViewAttachment(*res.Attachment)
		}
		out.add(req, p, map[string]any{"attachment": v, "status": res.Status}, res.File, res.Err)
	}
	return JSON(out.status(), map[string]any{"entity": ViewEntity(e), "_embedded": map[string]any{"attachments": out.list()}})
}

// listItem is a file on an entity's list, with how it is attached.
type listItem struct {
	FileView
	Attachments []AttachmentView `json:"attachments"`
}

func (a *Entities) list(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	r, err := ref(req)
	if err != nil {
		return Response{}, err
	}
	q, page, err := a.Catalog.ListEntity(ctx, p, r, req.RawQueryString)
	if err != nil {
		return Response{}, err
	}
	items := make([]listItem, len(page.Files))
	for i, f := range page.Files {
		items[i] = listItem{FileView: ViewListed(f, q.WithPreviews), Attachments: []AttachmentView{}}
		for _, at := range page.Result.Attachments[f.UUID] {
			items[i].Attachments = append(items[i].Attachments, ViewAttachment(at))
		}
	}
	path := "/v1/entities/" + PathParam(req, "entity_type") + "/" + PathParam(req, "entity_id") + "/files"
	return ListPage(path, req.RawQueryString, q.Limit, page.Cursor, "files", items)
}

type fileUsageView struct {
	AttachmentView
	Entity EntityView `json:"entity"`
}

func (a *Entities) usages(ctx context.Context, req Request, p auth.Principal) (Response, error) {
	u := PathParam(req, "uuid")
	if err := ids.Check("uuid", u); err != nil {
		return Response{}, err
	}
	f, us, err := a.Entities.Usages(ctx, p, u)
	if err != nil {
		return Response{}, err
	}
	views := make([]fileUsageView, len(us))
	for i, x := range us {
		views[i] = fileUsageView{AttachmentView: ViewAttachment(x.Attachment), Entity: ViewEntity(x.Entity)}
	}
	return JSON(http.StatusOK, map[string]any{"file": ViewFile(f), "_embedded": map[string]any{"usages": views}})
}
