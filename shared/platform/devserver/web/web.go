// Package web serves the pages `make run` shows: the files console (built
// from clients/console into a directory) at /, and the Uppy page at
// /uppy/, which uploads with Uppy (Dashboard + @uppy/aws-s3 in companion
// mode under an upload ticket). Uppy's bundle is vendored
// (vendor/uppy-6.0.1, MIT) so the page works offline.
package web

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

//go:embed index.html vendor
var files embed.FS

// Handler serves the console from dir (an empty dir, or one without an
// index.html, serves a page saying how to build it) under the
// Content-Security-Policy csp, and the Uppy page under /uppy/.
func Handler(dir, csp string) http.Handler {
	sub, _ := fs.Sub(files, ".")
	mux := http.NewServeMux()
	mux.Handle("/uppy/", http.StripPrefix("/uppy", http.FileServerFS(sub)))
	mux.Handle("/", Console(dir, csp))
	return mux
}

// Console serves a built console: index.html revalidated on every load,
// hashed assets cached for good, every answer with the policy and the
// headers a page holding a token needs (no framing, no sniffing, no
// referrer).
func Console(dir, csp string) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if _, err := os.Stat(path.Join(dir, "index.html")); dir == "" || err != nil {
			h.Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, notBuilt)
			return
		}
		if r.URL.Path == "/config.json" { // the API is this origin: nothing to configure
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-cache")
			fmt.Fprint(w, "{}\n")
			return
		}
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

const notBuilt = `<!doctype html><meta charset="utf-8"><title>Anexo</title>
<h1>The console is not built</h1>
<p><code>make run</code> builds it (<code>clients/console</code>: <code>npm ci &amp;&amp; npm run build</code>) and serves it here.
The API answers on this address; the Uppy page is at <a href="/uppy/">/uppy/</a>.</p>`
