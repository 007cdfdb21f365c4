// Package web is the page `make run` serves at /: it uploads with Uppy
// (Dashboard + @uppy/aws-s3 in companion mode under an upload ticket) and
// lists and downloads the account's files. Uppy's bundle is vendored
// (vendor/uppy-6.0.1, MIT) so the page works offline.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed index.html vendor
var files embed.FS

// Handler serves the page and its assets.
func Handler() http.Handler {
	sub, _ := fs.Sub(files, ".")
	return http.FileServerFS(sub)
}
