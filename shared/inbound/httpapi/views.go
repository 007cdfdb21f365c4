package httpapi

import (
	"net/http"
	"net/url"

	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/links"
)

// Link is a HAL-style link.
type Link = links.Link

// FileView is the public JSON of a file (Kommo-style field names).
type FileView struct {
	files.File
	// Previews hides the file's own previews from a listing that did not
	// ask for them (nil: omitted).
	Previews *files.Previews `json:"previews,omitempty"`
	Links    links.Set       `json:"_links"`
}

// ViewFile renders a file with its links.
func ViewFile(f files.File) FileView {
	return FileView{File: f, Previews: &f.Previews, Links: links.File(f.UUID)}
}

// ViewListed renders a file of a listing: its previews only when asked
// for (with=previews), since their links are signed per request.
func ViewListed(f files.File, withPreviews bool) FileView {
	v := ViewFile(f)
	if !withPreviews {
		v.Previews = nil
	}
	return v
}

// ListPage renders one page of a cursor-paged list at path: `_page`
// (limit, count, next_cursor), `_links` (self, next) and `_embedded`.
func ListPage[T any](path, rawQuery string, limit int, cursor, name string, items []T) (Response, error) {
	self := path
	if rawQuery != "" {
		self += "?" + rawQuery
	}
	links := map[string]Link{"self": {Href: self}}
	var next *string
	if cursor != "" {
		v, _ := url.ParseQuery(rawQuery)
		v.Set("cursor", cursor)
		links["next"] = Link{Href: path + "?" + v.Encode()}
		next = &cursor
	}
	return JSON(http.StatusOK, map[string]any{
		"_page":     map[string]any{"limit": limit, "count": len(items), "next_cursor": next},
		"_links":    links,
		"_embedded": map[string]any{name: items},
	})
}

// multiStatus collects the per-item results of a batch operation (trash,
// restore, purge, attach, detach): 200 when every item succeeded, 207
// otherwise.
type multiStatus struct {
	items  []map[string]any
	failed bool
}

// add appends one item with its file (for callers with files:read) and
// its error as a problem document.
func (m *multiStatus) add(req Request, p auth.Principal, item map[string]any, f *files.File, err error) {
	if f != nil && p.Has(auth.ScopeRead) { // file metadata needs files:read
		item["file"] = ViewFile(*f)
	}
	if err != nil {
		item["error"] = ProblemDoc(err, req.RequestContext.RequestID)
		m.failed = true
	}
	m.items = append(m.items, item)
}

// list is the items, [] when there are none.
func (m *multiStatus) list() []map[string]any {
	if m.items == nil {
		return []map[string]any{}
	}
	return m.items
}

func (m *multiStatus) status() int {
	if m.failed {
		return http.StatusMultiStatus
	}
	return http.StatusOK
}
