package api

import (
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
