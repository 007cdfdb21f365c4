package s3store_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/conformance/blobtest"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/testing/presigned"
	"github.com/anexo/anexo/shared/testing/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestConformance(t *testing.T) {
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		blobtest.Run(t, func(t *testing.T) blobtest.Blobs {
			return testenv.Connect(t, testenv.Config(be)).Blobs()
		})
	})
}

// TestEnforcement runs what moto does not enforce on the embedded S3.
func TestEnforcement(t *testing.T) {
	be := testenv.Embedded(t)
	blobtest.RunEnforcement(t, func(t *testing.T) blobtest.Blobs {
		return testenv.Connect(t, testenv.Config(be)).Blobs()
	})
}

func crc(b []byte) string {
	var out [4]byte
	binary.BigEndian.PutUint32(out[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(out[:])
}

// Signatures and checksums are only verified by versitygw (moto accepts
// anything), so these run on the embedded S3.
func TestSignedContentLengthIsEnforced(t *testing.T) {
	b := testenv.Connect(t, testenv.Config(testenv.Embedded(t))).Blobs()
	ctx := context.Background()
	id, err := b.CreateUpload(ctx, "a/f/v", "text/plain", "")
	if err != nil {
		t.Fatal(err)
	}
	req, err := b.PresignPart(ctx, "a/f/v", id, 1, 10, "", "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(req.URL, "content-length") {
		t.Fatalf("content-length is not among the signed headers: %s", req.URL)
	}
	for _, body := range []string{"short", "this body is longer than ten"} {
		status, _, err := presigned.Put(ctx, req.URL, req.Headers, []byte(body))
		if err != nil || status != http.StatusForbidden {
			t.Fatalf("PUT %d bytes to a URL signed for 10: status %d err %v, want 403", len(body), status, err)
		}
	}
	status, _, err := presigned.Put(ctx, req.URL, req.Headers, []byte("0123456789"))
	if err != nil || status != 200 {
		t.Fatalf("PUT of the signed length: %d %v", status, err)
	}
	parts, _ := b.ListParts(ctx, "a/f/v", id)
	if len(parts) != 1 || parts[0].Size != 10 {
		t.Fatalf("parts = %+v", parts)
	}
}

func TestFullObjectChecksum(t *testing.T) {
	b := testenv.Connect(t, testenv.Config(testenv.Embedded(t))).Blobs()
	ctx := context.Background()
	data := []byte(strings.Repeat("checksummed ", 1000))
	for _, tc := range []struct {
		name     string
		partSum  string
		whole    string
		putCode  int
		complete error
	}{
		{"good", crc(data), crc(data), 200, nil},
		{"tampered part checksum", crc([]byte("other")), crc(data), 400, nil},
		{"wrong whole-file checksum", crc(data), crc([]byte("other")), 200, apperr.ErrBadDigest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := testenv.Unique("a/f")
			id, err := b.CreateUpload(ctx, key, "text/plain", "CRC32")
			if err != nil {
				t.Fatal(err)
			}
			req, err := b.PresignPart(ctx, key, id, 1, int64(len(data)), "CRC32", tc.partSum, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if req.Headers["X-Amz-Checksum-Crc32"] != tc.partSum {
				t.Fatalf("part checksum header not signed: %v", req.Headers)
			}
			status, _, err := presigned.Put(ctx, req.URL, req.Headers, data)
			if err != nil {
				t.Fatal(err)
			}
			if tc.putCode == 200 && status != 200 || tc.putCode != 200 && status < 400 {
				t.Fatalf("PUT status %d, want %d", status, tc.putCode)
			}
			if status != 200 {
				return
			}
			parts, err := b.ListParts(ctx, key, id)
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.CompleteUpload(ctx, key, id, parts, &upload.Checksum{Algorithm: "CRC32", Value: tc.whole})
			if !errors.Is(err, tc.complete) && !(tc.complete == nil && err == nil) {
				t.Fatalf("complete: %v, want %v", err, tc.complete)
			}
		})
	}
}

func TestDownloadDisposition(t *testing.T) {
	b := testenv.Connect(t, testenv.Config(testenv.Embedded(t))).Blobs()
	ctx := context.Background()
	id, _ := b.CreateUpload(ctx, "a/d/v", "text/plain", "")
	req, _ := b.PresignPart(ctx, "a/d/v", id, 1, 2, "", "", time.Minute)
	if s, _, err := presigned.Put(ctx, req.URL, req.Headers, []byte("hi")); err != nil || s != 200 {
		t.Fatal(s, err)
	}
	parts, _ := b.ListParts(ctx, "a/d/v", id)
	ver, err := b.CompleteUpload(ctx, "a/d/v", id, parts, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `attachment; filename="_a_.txt"; filename*=UTF-8''%22a%22.txt`
	url, _ := b.PresignGet(ctx, "a/d/v", ver, want, "application/octet-stream", time.Minute)
	status, h, body, err := presigned.Get(ctx, url)
	if err != nil || status != 200 || string(body) != "hi" || h.Get("Content-Disposition") != want || h.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("GET: %d %q %q %v", status, body, h.Get("Content-Disposition"), err)
	}
}
