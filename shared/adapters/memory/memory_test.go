package memory_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/adapters/memory"
	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/crc"
	"github.com/anexo/anexo/shared/conformance/blobtest"
	"github.com/anexo/anexo/shared/conformance/storetest"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/testing/presigned"
)

// TestStore runs the metadata conformance suite on the memory store, as
// shared/adapters/dynamo runs it on the emulators and moto_server.
func TestStore(t *testing.T) {
	t.Parallel()
	newStore := func(t *testing.T) storetest.Store { return &memory.Store{} }
	storetest.Run(t, newStore)
	storetest.RunRaces(t, newStore)
}

// newBlobs is a memory bucket served over HTTP.
func newBlobs(t *testing.T) *memory.Blobs {
	b := &memory.Blobs{}
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	b.Endpoint = srv.URL
	return b
}

// TestBlobs runs the blob conformance suite on the memory bucket, as
// shared/adapters/s3store runs it on the embedded S3 and moto_server.
func TestBlobs(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) blobtest.Blobs { return newBlobs(t) })
	blobtest.RunEnforcement(t, func(t *testing.T) blobtest.Blobs { return newBlobs(t) })
}

// TestBlobsEnforceWhatS3Does: a part URL takes only its signed length and
// checksum, a tampered URL nothing, and completion verifies the object's
// CRC — the rules versitygw enforces and moto does not.
func TestBlobsEnforceWhatS3Does(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBlobs(t)
	id, _ := b.CreateUpload(ctx, "a/f/v", "text/plain", "CRC32C")
	body := []byte("0123456789")
	sum := crc.Of("CRC32C", body)
	req, _ := b.PresignPart(ctx, "a/f/v", id, 1, 10, "CRC32C", sum, time.Minute)
	for _, tc := range []struct {
		name    string
		url     string
		headers map[string]string
		body    []byte
		status  int
	}{
		{"short body", req.URL, req.Headers, body[:5], 403},
		{"long body", req.URL, req.Headers, append(body, 'x'), 403},
		{"other bytes", req.URL, req.Headers, []byte("9876543210"), 400},
		{"tampered", strings.Replace(req.URL, "partNumber=1", "partNumber=2", 1), req.Headers, body, 403},
		{"no checksum header", req.URL, map[string]string{"Content-Length": "10"}, body, 403},
		{"as signed", req.URL, req.Headers, body, 200},
	} {
		if status, _, err := presigned.Put(ctx, tc.url, tc.headers, tc.body); err != nil || status != tc.status {
			t.Errorf("%s: status %d %v, want %d", tc.name, status, err, tc.status)
		}
	}
	parts, _ := b.ListParts(ctx, "a/f/v", id)
	if len(parts) != 1 || parts[0].Checksum != sum {
		t.Fatalf("parts = %+v", parts)
	}
	if _, err := b.CompleteUpload(ctx, "a/f/v", id, parts, &upload.Checksum{Algorithm: "CRC32C", Value: crc.Of("CRC32C", []byte("x"))}); !errors.Is(err, apperr.ErrBadDigest) {
		t.Fatalf("completing with another object's CRC: %v, want ErrBadDigest", err)
	}
	if _, err := b.CompleteUpload(ctx, "a/f/v", id, parts, &upload.Checksum{Algorithm: "CRC32C", Value: sum}); err != nil {
		t.Fatal(err)
	}
}
