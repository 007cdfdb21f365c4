package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/testing/testenv"
)

// TestUploadPageInChromium drives the Uppy page `make run` serves in headless
// Chromium (Debian's chromium + playwright-core): Uppy's Dashboard uploads
// one small file (a POST policy form upload, recorded from S3's report),
// one multi-part file (the companion multipart routes) and a picture,
// under an upload ticket; the list shows the picture's thumbnail, loaded
// from its preview's signed link; then the bytes are compared through the
// API.
func TestUploadPageInChromium(t *testing.T) {
	t.Parallel()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "platform", "devserver", "web", "browsertest") // before the embedded S3 changes directory
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium, _ = exec.LookPath("chromium")
	}
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "playwright-core"))
	if chromium == "" || nodeErr != nil || modErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs chromium, node and %s/node_modules (npm ci): chromium=%q node=%v modules=%v", dir, chromium, nodeErr, modErr)
		}
		t.Skip("chromium, node or playwright-core missing (apt-get install chromium; npm ci in shared/platform/devserver/web/browsertest)")
	}
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	tmp := t.TempDir()
	small, big := random(300_000), random(13*MiB+777)
	paths := []string{filepath.Join(tmp, "proposta.pdf"), filepath.Join(tmp, "gravação.mp4"), filepath.Join(tmp, "foto.png")}
	for i, b := range [][]byte{small, big, pngOf(t, 400, 300)} {
		if err := os.WriteFile(paths[i], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.probe.Reset()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(dir, "uppy.mjs"), e.srv.URL + "/uppy/", c.token}, paths...)...)
	saved := filepath.Join(tmp, "downloaded")
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium, "DOWNLOAD_NAME=proposta.pdf", "DOWNLOAD_TO="+saved, "THUMB_NAME=foto.png")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var out struct {
		Uploaded []struct {
			Name string
			Size int64
		}
		Failed     []map[string]any
		Listed     []string
		Downloaded string
		Thumb      struct{ Width, Height int }
		Console    []string
		Error      string
	}
	if jerr := json.Unmarshal(stdout.Bytes(), &out); jerr != nil || err != nil || out.Error != "" {
		t.Fatalf("browser: %v %v\nstdout: %s\nstderr: %s", err, jerr, stdout.String(), stderr.String())
	}
	if len(out.Uploaded) != 3 || len(out.Failed) != 0 {
		t.Fatalf("uploads: %+v failed %v\nconsole: %v", out.Uploaded, out.Failed, out.Console)
	}
	if !slices.Contains(out.Listed, "proposta.pdf") || !slices.Contains(out.Listed, "gravação.mp4") {
		t.Fatalf("the page lists %v", out.Listed)
	}
	if out.Thumb.Width != 64 || out.Thumb.Height != 48 {
		t.Fatalf("the picture's thumbnail: %+v", out.Thumb)
	}
	// the page's download button saved the small file's bytes
	if got, _ := os.ReadFile(saved); out.Downloaded != "proposta.pdf" || !bytes.Equal(got, small) {
		t.Fatalf("the page's download: %q, %d bytes", out.Downloaded, len(got))
	}
	// one file took the form-upload path, the other the multipart path
	calls := e.probe.Calls()
	count := func(op string) (n int) {
		for _, c := range calls {
			if c == op {
				n++
			}
		}
		return n
	}
	if count("S3.CreateMultipartUpload") != 1 || count("S3.CompleteMultipartUpload") != 1 {
		t.Fatalf("expected one multipart upload (the big file) and one form upload: %v", calls)
	}
	// the bytes, through the API
	for i, name := range []string{"proposta.pdf", "gravação.mp4"} {
		m := c.expect(200, "GET", "/v1/files?filter[name]="+name, nil)
		fs := m["_embedded"].(map[string]any)["files"].([]any)
		if len(fs) != 1 {
			t.Fatalf("%s: %v", name, fs)
		}
		got, _ := c.download(fs[0].(map[string]any)["uuid"].(string), "")
		if !bytes.Equal(got, [][]byte{small, big}[i]) {
			t.Fatalf("%s: bytes differ", name)
		}
	}
}
