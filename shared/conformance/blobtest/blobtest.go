// Package blobtest is the conformance suite of the blob ports
// (upload.Blobs, catalog.Blobs, batches.Blobs; go-cloud style): run it
// against each implementation — memory, the embedded S3, moto_server.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/testing/presigned"
)

// Blobs is what the suite exercises: every blob port.
type Blobs interface {
	upload.Blobs
	PresignGet(ctx context.Context, key, versionID, disposition, contentType string, ttl time.Duration) (string, error)
	Hide(ctx context.Context, key string) error
	Unhide(ctx context.Context, key string) error
	Erase(ctx context.Context, key string) error
	PutObject(ctx context.Context, key, contentType string, body []byte) (string, error)
}

// Run runs the suite; newBlobs returns a store on an empty versioned bucket.
func Run(t *testing.T, newBlobs func(t *testing.T) Blobs) {
	t.Run("MultipartRoundTrip", func(t *testing.T) { testRoundTrip(t, newBlobs(t)) })
	t.Run("EmptyObjectOnce", func(t *testing.T) { testEmptyOnce(t, newBlobs(t)) })
	t.Run("ListPartsAllPages", func(t *testing.T) { testListPages(t, newBlobs(t)) })
	t.Run("AbortAndMissing", func(t *testing.T) { testAbort(t, newBlobs(t)) })
	t.Run("CompleteTwice", func(t *testing.T) { testCompleteTwice(t, newBlobs(t)) })
	t.Run("TrashMarkers", func(t *testing.T) { testTrash(t, newBlobs(t)) })
	t.Run("WholeObjects", func(t *testing.T) { testWhole(t, newBlobs(t)) })
	t.Run("FormUpload", func(t *testing.T) { testForm(t, newBlobs(t)) })
}

// RunEnforcement runs what S3 enforces and moto_server does not: the
// signed response headers of a download and a form's size condition.
// Run it on the embedded S3 and on memory.
func RunEnforcement(t *testing.T, newBlobs func(t *testing.T) Blobs) {
	t.Run("SignedResponseHeaders", func(t *testing.T) { testResponseHeaders(t, newBlobs(t)) })
	t.Run("FormSize", func(t *testing.T) { testFormSize(t, newBlobs(t)) })
}

func testResponseHeaders(t *testing.T, b Blobs) {
	ctx := context.Background()
	ver, err := b.PutObject(ctx, "acct/page/v1", "text/html", []byte("<script>"))
	if err != nil {
		t.Fatal(err)
	}
	url, err := b.PresignGet(ctx, "acct/page/v1", ver, `attachment; filename="page.html"`, "application/octet-stream", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	status, h, _, err := presigned.Get(ctx, url)
	if err != nil || status != 200 || h.Get("Content-Disposition") != `attachment; filename="page.html"` || h.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("GET = %d %v %v, want the signed disposition and type", status, h, err)
	}
	if status, _, _, _ := presigned.Get(ctx, strings.Replace(url, "attachment", "inline", 1)); status != http.StatusForbidden {
		t.Fatalf("a GET whose disposition was changed: %d, want 403", status)
	}
}

func testFormSize(t *testing.T, b Blobs) {
	ctx := context.Background()
	form, err := b.PresignPost(ctx, "acct/form/v1", "text/plain", 5, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"toolong", "four"} {
		if status, _, err := presigned.PostForm(ctx, form.URL, form.Fields, "a.txt", []byte(body)); err != nil || status < 400 {
			t.Fatalf("a POST of %d bytes to a form for 5: %d %v", len(body), status, err)
		}
	}
	if _, err := b.Head(ctx, "acct/form/v1"); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("a refused form stored an object: %v", err)
	}
}

const part = 5 << 20

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func put(t *testing.T, b Blobs, key, id string, n int32, body []byte) {
	t.Helper()
	req, err := b.PresignPart(context.Background(), key, id, n, int64(len(body)), "", "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// SigV4 cannot sign a zero Content-Length; completion checks sizes.
	if req.Method != http.MethodPut || len(body) > 0 && req.Headers["Content-Length"] != fmt.Sprint(len(body)) {
		t.Fatalf("presigned part: method %s headers %v; want PUT with Content-Length %d signed", req.Method, req.Headers, len(body))
	}
	status, etag, err := presigned.Put(context.Background(), req.URL, req.Headers, body)
	if err != nil || status != http.StatusOK || etag == "" {
		t.Fatalf("PUT part %d: status %d etag %q err %v", n, status, etag, err)
	}
}

func testRoundTrip(t *testing.T, b Blobs) {
	ctx := context.Background()
	key := "acct/file/v1"
	id, err := b.CreateUpload(ctx, key, "application/pdf", "")
	if err != nil || id == "" {
		t.Fatalf("CreateUpload: %q %v", id, err)
	}
	data := random(2*part + 123)
	put(t, b, key, id, 2, data[part:2*part]) // out of order on purpose
	put(t, b, key, id, 1, data[:part])
	put(t, b, key, id, 3, data[2*part:])
	parts, err := b.ListParts(ctx, key, id)
	if err != nil || len(parts) != 3 {
		t.Fatalf("ListParts: %v %v", parts, err)
	}
	for i, p := range parts {
		want := int64(part)
		if i == 2 {
			want = 123
		}
		if p.Number != int32(i+1) || p.Size != want || p.ETag == "" {
			t.Fatalf("part %d = %+v, want number %d size %d", i, p, i+1, want)
		}
	}
	ver, err := b.CompleteUpload(ctx, key, id, parts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ver == "" {
		t.Fatal("CompleteUpload on a versioned bucket returned no version id")
	}
	head, err := b.Head(ctx, key)
	if err != nil || head.Size != int64(len(data)) || head.VersionID != ver {
		t.Fatalf("Head = %+v %v, want size %d version %s", head, err, len(data), ver)
	}
	url, err := b.PresignGet(ctx, key, ver, `attachment; filename="a.pdf"`, "application/pdf", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	status, _, got, err := presigned.Get(ctx, url)
	if err != nil || status != 200 || !bytes.Equal(got, data) {
		t.Fatalf("download: status %d, %d bytes, equal=%v, err %v", status, len(got), bytes.Equal(got, data), err)
	}
	if err := b.DeleteVersion(ctx, key, ver); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Head(ctx, key); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("Head after DeleteVersion: %v, want ErrNotFound", err)
	}
}

// testEmptyOnce: an empty file's object is stored once; a second store
// (a retry, a concurrent completion) is refused, not a second version.
func testEmptyOnce(t *testing.T, b Blobs) {
	ctx := context.Background()
	key := "acct/empty/v1"
	v, err := b.PutEmpty(ctx, key, "text/plain")
	if err != nil || v == "" {
		t.Fatalf("PutEmpty = %q %v", v, err)
	}
	if again, err := b.PutEmpty(ctx, key, "text/plain"); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("second PutEmpty = %q %v, want ErrConflict", again, err)
	}
	head, err := b.Head(ctx, key)
	if err != nil || head.Size != 0 || head.VersionID != v {
		t.Fatalf("Head = %+v %v, want the first version %s", head, err, v)
	}
}

func testListPages(t *testing.T, b Blobs) {
	ctx := context.Background()
	key := "acct/many/v1"
	id, err := b.CreateUpload(ctx, key, "text/plain", "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 1003 // more than one ListParts page (1,000)
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	for i := int32(1); i <= n; i++ {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			req, err := b.PresignPart(ctx, key, id, i, 1, "", "", time.Minute)
			if err == nil {
				var status int
				status, _, err = presigned.Put(ctx, req.URL, req.Headers, []byte{byte(i)})
				if err == nil && status != 200 {
					err = fmt.Errorf("part %d: status %d", i, status)
				}
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	parts, err := b.ListParts(ctx, key, id)
	if err != nil || len(parts) != n {
		t.Fatalf("ListParts returned %d parts (%v), want %d", len(parts), err, n)
	}
	for i, p := range parts {
		if p.Number != int32(i+1) {
			t.Fatalf("parts[%d].Number = %d", i, p.Number)
		}
	}
	_ = b.AbortUpload(ctx, key, id)
}

func testAbort(t *testing.T, b Blobs) {
	ctx := context.Background()
	key := "acct/abort/v1"
	id, err := b.CreateUpload(ctx, key, "text/plain", "")
	if err != nil {
		t.Fatal(err)
	}
	put(t, b, key, id, 1, []byte("x"))
	if err := b.AbortUpload(ctx, key, id); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ListParts(ctx, key, id); !errors.Is(err, apperr.ErrNoSuchUpload) {
		t.Fatalf("ListParts after abort: %v, want ErrNoSuchUpload", err)
	}
	if err := b.AbortUpload(ctx, key, id); err != nil && !errors.Is(err, apperr.ErrNoSuchUpload) {
		t.Fatalf("second abort: %v", err)
	}
	if _, err := b.Head(ctx, "acct/never/v1"); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("Head of a missing key: %v, want ErrNotFound", err)
	}
}

func testCompleteTwice(t *testing.T, b Blobs) {
	ctx := context.Background()
	key := "acct/twice/v1"
	id, err := b.CreateUpload(ctx, key, "text/plain", "")
	if err != nil {
		t.Fatal(err)
	}
	put(t, b, key, id, 1, []byte(strings.Repeat("a", 10)))
	parts, _ := b.ListParts(ctx, key, id)
	ver, err := b.CompleteUpload(ctx, key, id, parts, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A second completion either succeeds idempotently (AWS, within a window)
	// or reports the upload gone; the service handles both via Head.
	if _, err := b.CompleteUpload(ctx, key, id, parts, nil); err != nil && !errors.Is(err, apperr.ErrNoSuchUpload) {
		t.Fatalf("second complete: %v", err)
	}
	if _, err := b.ListParts(ctx, key, id); !errors.Is(err, apperr.ErrNoSuchUpload) {
		t.Fatalf("ListParts after completion: %v, want ErrNoSuchUpload", err)
	}
	head, err := b.Head(ctx, key)
	if err != nil || head.VersionID != ver || head.Size != 10 {
		t.Fatalf("Head = %+v %v", head, err)
	}
}

// testTrash: a delete marker hides a key's bytes (once, however often
// asked), removing the markers shows them again, and erasing removes
// every version.
func testTrash(t *testing.T, b Blobs) {
	ctx := context.Background()
	key := "acct/trash/v1"
	ver, err := b.PutObject(ctx, key, "text/plain", []byte("kept"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := b.Hide(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Head(ctx, key); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("Head of a hidden key: %v, want ErrNotFound", err)
	}
	if vs, err := b.Versions(ctx, key); err != nil || len(vs) != 1 || vs[0] != ver {
		t.Fatalf("a hidden key's versions = %v %v, want the one version", vs, err)
	}
	for range 2 {
		if err := b.Unhide(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if head, err := b.Head(ctx, key); err != nil || head.VersionID != ver {
		t.Fatalf("Head after Unhide = %+v %v", head, err)
	}
	if err := b.Hide(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := b.Erase(ctx, key); err != nil {
		t.Fatal(err)
	}
	if vs, err := b.Versions(ctx, key); err != nil || len(vs) != 0 {
		t.Fatalf("versions after Erase = %v %v", vs, err)
	}
	if err := b.Erase(ctx, key); err != nil {
		t.Fatalf("erasing an erased key: %v", err)
	}
}

// testWhole: whole objects (batch uploads) become versions of their key,
// listed and deleted one by one.
func testWhole(t *testing.T, b Blobs) {
	ctx := context.Background()
	key := "acct/whole/v1"
	v1, err := b.PutObject(ctx, key, "text/plain", []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := b.PutObject(ctx, key, "text/plain", []byte("second"))
	if err != nil || v2 == v1 {
		t.Fatalf("a second PutObject = %q %v", v2, err)
	}
	if vs, _ := b.Versions(ctx, key); len(vs) != 2 {
		t.Fatalf("versions = %v", vs)
	}
	if head, _ := b.Head(ctx, key); head.VersionID != v2 || head.Size != 6 {
		t.Fatalf("Head = %+v, want the second version", head)
	}
	if err := b.DeleteVersion(ctx, key, v2); err != nil {
		t.Fatal(err)
	}
	if head, _ := b.Head(ctx, key); head.VersionID != v1 || head.Size != 3 {
		t.Fatalf("Head after deleting the second = %+v", head)
	}
	url, err := b.PresignGet(ctx, key, v1, "inline", "text/plain", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body, err := presigned.Get(ctx, url); err != nil || status != 200 || string(body) != "one" {
		t.Fatalf("GET = %d %q %v", status, body, err)
	}
}

// testForm: a presigned POST form stores exactly its size at its key.
func testForm(t *testing.T, b Blobs) {
	ctx := context.Background()
	key := "acct/form/v1"
	form, err := b.PresignPost(ctx, key, "text/plain", 5, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, body, err := presigned.PostForm(ctx, form.URL, form.Fields, "a.txt", []byte("hello")); err != nil || status >= 300 {
		t.Fatalf("POST: %d %s %v", status, body, err)
	}
	if head, err := b.Head(ctx, key); err != nil || head.Size != 5 {
		t.Fatalf("Head after the form = %+v %v", head, err)
	}
}
