package api

import (
	"net/http"
	"net/url"

	"github.com/anexo/anexo/shared/files"
)

// Link is a HAL-style link.
type Link struct {
	Href string `json:"href"`
}

// FileView is the public JSON of a file (Kommo-style field names).
type FileView struct {
	files.File
	Links map[string]Link `json:"_links"`
}

// ViewFile renders a file with its links.
func ViewFile(f files.File) FileView {
	self := "/v1/files/" + f.UUID
	return FileView{File: f, Links: map[string]Link{
		"self":     {Href: self},
		"download": {Href: self + "/download"},
	}}
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
