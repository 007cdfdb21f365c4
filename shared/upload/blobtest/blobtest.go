// Package blobtest is the conformance suite every upload.Blobs backend must
// pass (go-cloud style): run it against each S3 implementation.
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

	"github.com/anexo/anexo/shared/apperr"
	"github.com/anexo/anexo/shared/presigned"
	"github.com/anexo/anexo/shared/upload"
)

// Blobs is what the suite exercises.
type Blobs interface {
	upload.Blobs
	PresignGet(ctx context.Context, key, versionID, disposition, contentType string, ttl time.Duration) (string, error)
}

// Run runs the suite; newBlobs returns a store on an empty versioned bucket.
func Run(t *testing.T, newBlobs func(t *testing.T) Blobs) {
	t.Run("MultipartRoundTrip", func(t *testing.T) { testRoundTrip(t, newBlobs(t)) })
	t.Run("EmptyObjectOnce", func(t *testing.T) { testEmptyOnce(t, newBlobs(t)) })
	t.Run("ListPartsAllPages", func(t *testing.T) { testListPages(t, newBlobs(t)) })
	t.Run("AbortAndMissing", func(t *testing.T) { testAbort(t, newBlobs(t)) })
	t.Run("CompleteTwice", func(t *testing.T) { testCompleteTwice(t, newBlobs(t)) })
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
