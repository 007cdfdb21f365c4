package catalog

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/ids"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// PageBudget bounds the items one page may evaluate, so a page's read cost
// stays bounded however many items the filters drop: a page can come back
// short (even empty) with a next cursor.
const PageBudget = 1000

// ListRequest asks a store for one page.
type ListRequest struct {
	AccountID string
	Query     Query
	Start     *Position
	Need      int
	Budget    int // items the page may evaluate
	PerCall   int // items one store request may evaluate
}

// NextLimit is how many items a store's next request for this page should
// evaluate, so a page reads about what it returns rather than PerCall
// items: the page's remainder plus one (a page that ends the listing then
// knows it) at first; then the remainder scaled by the share of evaluated
// items the filters kept so far, with a quarter to spare (four times the
// last request while nothing matched); never more than PerCall or the
// budget left.
func (r ListRequest) NextLimit(matched, evaluated, prev int) int {
	rest := r.Need - matched
	n := rest + 1
	switch {
	case evaluated == 0:
	case matched == 0:
		n = 4 * prev
	default:
		n = rest*evaluated*5/(matched*4) + 1
	}
	return max(1, min(n, r.PerCall, r.Budget-evaluated))
}

// ListResult is one page from the store.
type ListResult struct {
	Files     []files.File
	Next      *Position
	Evaluated int     // items read (before filters)
	Capacity  float64 // read capacity consumed, where the backend reports it
	// Attachments of each listed file to the filtered entity (entity
	// listings only), keyed by file uuid.
	Attachments map[string][]entities.Attachment
}

// EntityPageBudget bounds the files an entity listing page may read: each
// is one item of a BatchGetItem after the attachment Query, so the page's
// cost stays bounded as well.
const EntityPageBudget = 250

// Lister is the listing side of the metadata store.
type Lister interface {
	ListFiles(ctx context.Context, r ListRequest) (ListResult, error)
	// ListEntityFiles is ListFiles for a query with an entity filter: the
	// entity's attachments in file creation order, joined with the files.
	ListEntityFiles(ctx context.Context, r ListRequest) (ListResult, error)
	GetFiles(ctx context.Context, accountID string, uuids []string) ([]files.File, error)
	ListVersions(ctx context.Context, accountID, fileUUID string, start *Position, limit int) ([]files.Version, *Position, error)
	PromoteVersion(ctx context.Context, f files.File, rec *outbox.Record) error
	Usage(ctx context.Context, accountID string) (files.Usage, error)
}

// Page is a listing answer.
type Page struct {
	Files  []files.File
	Cursor string // empty on the last page
	Result ListResult
}

// DefaultPerCall is how many items one Query may evaluate.
const DefaultPerCall = 500

// List answers GET /v1/files.
func (c *Catalog) List(ctx context.Context, p auth.Principal, rawQuery string) (Query, Page, error) {
	if err := p.Require(auth.ScopeRead); err != nil {
		return Query{}, Page{}, err
	}
	now := c.Clock.Now()
	q, err := ParseQuery(rawQuery, now)
	if err != nil {
		return Query{}, Page{}, err
	}
	return c.list(ctx, p, q)
}

// ListEntity answers an entity's Media tab (GET /v1/entities/{type}/{id}/files):
// the files attached as media or through notes, never field values unless
// asked for with filter[entity][kind], never trashed files. Every file
// filter of List applies.
func (c *Catalog) ListEntity(ctx context.Context, p auth.Principal, ref entities.Ref, rawQuery string) (Query, Page, error) {
	if err := p.Require(auth.ScopeRead); err != nil {
		return Query{}, Page{}, err
	}
	v, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Query{}, Page{}, apperr.Invalid("query", "is not a valid query string")
	}
	var errs apperr.Fields
	for _, k := range []string{"filter[entity][type]", "filter[entity][id]", "filter[uuid]", "filter[uuid][]", "filter[deleted]"} {
		if v.Has(k) {
			errs.Add(k, "not available on an entity's file list")
		}
	}
	if err := errs.Err(); err != nil {
		return Query{}, Page{}, err
	}
	id := ref.UUID
	if id == "" {
		id = strconv.FormatInt(ref.Code, 10)
	}
	v.Set("filter[entity][type]", string(ref.Type))
	v.Set("filter[entity][id]", id)
	q, err := ParseQuery(v.Encode(), c.Clock.Now())
	if err != nil {
		return Query{}, Page{}, err
	}
	if len(q.Entity.Kinds) == 0 {
		q.Entity.Kinds = entities.MediaTab
	}
	return c.list(ctx, p, q)
}

func (c *Catalog) list(ctx context.Context, p auth.Principal, q Query) (Query, Page, error) {
	q, page, err := c.page(ctx, p, q)
	if err != nil || !q.WithPreviews {
		return q, page, err
	}
	for i, f := range page.Files {
		if page.Files[i].Previews, err = c.linkPreviews(ctx, f, f.Previews); err != nil {
			return q, Page{}, err
		}
	}
	return q, page, nil
}

// page reads one page of a listing.
func (c *Catalog) page(ctx context.Context, p auth.Principal, q Query) (Query, Page, error) {
	now := q.Now
	if len(q.UUIDs) > 0 {
		if q.Cursor != "" {
			return q, Page{}, apperr.Invalid("cursor", "filter[uuid] answers in one page; drop the cursor")
		}
		if len(q.UUIDs) > q.Limit {
			return q, Page{}, apperr.Invalid("limit", "must be at least the number of uuids in filter[uuid]")
		}
		fs, err := c.Store.GetFiles(ctx, p.AccountID, q.UUIDs)
		if err != nil {
			return q, Page{}, err
		}
		out := fs[:0]
		for _, f := range fs {
			if q.Matches(f) {
				out = append(out, f)
			}
		}
		sort.Slice(out, func(i, j int) bool {
			if q.Ascending {
				return out[i].CreatedAt.Before(out[j].CreatedAt)
			}
			return out[j].CreatedAt.Before(out[i].CreatedAt)
		})
		return q, Page{Files: out, Result: ListResult{Evaluated: len(fs)}}, nil
	}
	canon := q.Canonical()
	var start *Position
	if q.Cursor != "" {
		pos, err := DecodeCursor(ctx, c.Cursors, q.Cursor, p.AccountID, canon, now)
		if err != nil {
			return q, Page{}, err
		}
		start = &pos
	}
	budget, perCall := PageBudget, DefaultPerCall
	if c.Budget > 0 {
		budget = c.Budget
	}
	if c.PerCall > 0 {
		perCall = c.PerCall
	}
	req := ListRequest{AccountID: p.AccountID, Query: q, Start: start, Need: q.Limit, Budget: budget, PerCall: perCall}
	list := c.Store.ListFiles
	if q.Entity != nil {
		if c.Entities == nil {
			return q, Page{}, apperr.Invalid("filter[entity][type]", "entity filters are not served here")
		}
		e, err := c.Entities.Resolve(ctx, p, q.Entity.Ref, false)
		switch {
		case err == nil:
			q.Entity.UUID = e.UUID
		case q.Entity.Ref.UUID != "" && apperr.KindOf(err) == apperr.KindNotFound:
			q.Entity.UUID = q.Entity.Ref.UUID // nothing attached to it yet
		default:
			return q, Page{}, err
		}
		req.Query = q
		req.Budget = min(budget, EntityPageBudget)
		list = c.Store.ListEntityFiles
	}
	res, err := list(ctx, req)
	if err != nil {
		return q, Page{}, err
	}
	page := Page{Files: res.Files, Result: res}
	if res.Next != nil {
		if page.Cursor, err = EncodeCursor(ctx, c.Cursors, p.AccountID, canon, *res.Next, now); err != nil {
			return q, Page{}, err
		}
	}
	return q, page, nil
}

// Versions lists a file's versions, newest first.
func (c *Catalog) Versions(ctx context.Context, p auth.Principal, fileUUID string, limit int, cursor string) (files.File, []files.Version, string, error) {
	f, err := c.readable(ctx, p, fileUUID)
	if err != nil {
		return files.File{}, nil, "", err
	}
	canon := "versions:" + fileUUID
	var start *Position
	if cursor != "" {
		pos, err := DecodeCursor(ctx, c.Cursors, cursor, p.AccountID, canon, c.Clock.Now())
		if err != nil {
			return files.File{}, nil, "", err
		}
		start = &pos
	}
	vs, next, err := c.Store.ListVersions(ctx, p.AccountID, fileUUID, start, limit)
	if err != nil {
		return files.File{}, nil, "", err
	}
	var nextCursor string
	if next != nil {
		if nextCursor, err = EncodeCursor(ctx, c.Cursors, p.AccountID, canon, *next, c.Clock.Now()); err != nil {
			return files.File{}, nil, "", err
		}
	}
	for i := range vs {
		if vs[i].Previews, err = c.linkPreviews(ctx, f, vs[i].Previews); err != nil {
			return files.File{}, nil, "", err
		}
	}
	return f, vs, nextCursor, nil
}

// Version reads one version of a file.
func (c *Catalog) Version(ctx context.Context, p auth.Principal, fileUUID, versionUUID string) (files.File, files.Version, error) {
	f, err := c.readable(ctx, p, fileUUID)
	if err != nil {
		return files.File{}, files.Version{}, err
	}
	v, err := c.version(ctx, p, fileUUID, versionUUID)
	if err != nil {
		return files.File{}, files.Version{}, err
	}
	v.Previews, err = c.linkPreviews(ctx, f, v.Previews)
	return f, v, err
}

func (c *Catalog) version(ctx context.Context, p auth.Principal, fileUUID, versionUUID string) (files.Version, error) {
	if err := ids.Check("version_uuid", versionUUID); err != nil {
		return files.Version{}, err
	}
	v, err := c.Store.GetVersion(ctx, p.AccountID, fileUUID, versionUUID)
	if errors.Is(err, apperr.ErrNotFound) {
		return files.Version{}, apperr.New(apperr.KindNotFound, "version_not_found", "file "+fileUUID+" has no version "+versionUUID)
	}
	return v, err
}

// Promote makes an older version the file's main version again.
func (c *Catalog) Promote(ctx context.Context, p auth.Principal, fileUUID, versionUUID string) (files.File, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return files.File{}, err
	}
	f, err := c.file(ctx, p.AccountID, fileUUID)
	if err != nil {
		return files.File{}, err
	}
	if f.IsTrashed {
		return files.File{}, apperr.New(apperr.KindConflict, "file_trashed", "file "+fileUUID+" is in the trash; restore it first")
	}
	v, err := c.version(ctx, p, fileUUID, versionUUID)
	if err != nil {
		return files.File{}, err
	}
	if f.VersionUUID == v.UUID {
		return f, nil
	}
	if v.Scan.Status == files.ScanInfected {
		return files.File{}, files.Infected(fileUUID)
	}
	f.Scan, f.Previews = v.Scan, v.Previews
	ext := files.Extension(v.Name)
	f.VersionUUID, f.Name, f.SanitizedName, f.Extension = v.UUID, v.Name, files.Sanitize(v.Name), ext
	f.MimeType, f.Type, f.Size = v.MimeType, files.Kind(v.MimeType, ext), v.Size
	f.UpdatedAt, f.UpdatedBy = c.Clock.Now().Truncate(time.Microsecond), p.Name
	err = c.Store.PromoteVersion(ctx, f, outbox.OfFile(outbox.FilePromoted, f, &v, "", c.Clock.Now()))
	if errors.Is(err, apperr.ErrConflict) {
		return files.File{}, apperr.New(apperr.KindConflict, "file_changed", "the file was trashed or its version removed meanwhile; read it again")
	}
	return f, err
}

// Usage reports an account's storage.
func (c *Catalog) Usage(ctx context.Context, p auth.Principal) (files.Usage, error) {
	if err := p.Require(auth.ScopeRead); err != nil {
		return files.Usage{}, err
	}
	return c.Store.Usage(ctx, p.AccountID)
}
