package httpapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/anexo/anexo/shared/base/apperr"
)

// limitParam reads a page's limit= (1 to max).
func limitParam(v string, max int, errs *apperr.Fields) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		errs.Add("limit", "must be an integer from 1 to "+strconv.Itoa(max))
	}
	return n
}

// afterPage answers a page of a list read on by after= ids: its
// _page, its _links (self as asked, next when there is more, and links),
// and the views embedded under name.
func afterPage(req Request, self string, q url.Values, next string, limit, count int, name string, views any, links map[string]Link) (Response, error) {
	if links == nil {
		links = map[string]Link{}
	}
	links["self"] = Link{Href: self}
	if req.RawQueryString != "" {
		links["self"] = Link{Href: self + "?" + req.RawQueryString}
	}
	if next != "" {
		q.Set("after", next)
		links["next"] = Link{Href: self + "?" + q.Encode()}
	}
	return JSON(http.StatusOK, map[string]any{
		"_page":     map[string]any{"limit": limit, "count": count, "next_cursor": optString(next)},
		"_links":    links,
		"_embedded": map[string]any{name: views},
	})
}
