package previews_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/adapters/memory"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/previews"
)

// squares renders any "picture" into sizes × sizes JPEG stand-ins.
type squares struct{ calls int }

func (r *squares) Renders(mimeType, _ string) bool { return mimeType == "image/png" }

func (r *squares) Render(_ context.Context, _ string, src []byte, sizes []int) ([]previews.Image, error) {
	r.calls++
	if string(src) == "bomb" {
		return nil, previews.ErrTooLarge
	}
	var out []previews.Image
	for _, s := range sizes {
		out = append(out, previews.Image{Size: s, Width: s, Height: s / 2, Type: "image/jpeg", Bytes: []byte("jpeg")})
	}
	return out, nil
}

// crashOnce fails the first RecordPreviews: a crash after the images
// were stored.
type crashOnce struct {
	previews.Store
	crashed bool
}

func (c *crashOnce) RecordPreviews(ctx context.Context, v files.Version, main bool, rec *outbox.Record) error {
	if !c.crashed {
		c.crashed = true
		return errors.New("injected: the process died")
	}
	return c.Store.RecordPreviews(ctx, v, main, rec)
}

type fixture struct {
	store   *memory.Store
	blobs   *memory.Blobs
	svc     *previews.Service
	account string
	now     time.Time
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{store: &memory.Store{}, blobs: &memory.Blobs{}, account: uuid.NewString(), now: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	if err := f.store.PutAccount(context.Background(), auth.Account{ID: f.account, Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	f.svc = &previews.Service{Store: &crashOnce{Store: f.store, crashed: true}, Sources: f.blobs, Images: f.blobs, Renderer: &squares{},
		Clock: func() time.Time { return f.now }}
	return f
}

// file stores a one-version file of mime with body and scan.
func (f *fixture) file(t *testing.T, mime string, body []byte, scan files.ScanStatus) files.File {
	t.Helper()
	fu, vu := uuid.NewString(), uuid.Must(uuid.NewV7()).String()
	key := files.ObjectKey(f.account, fu, vu)
	s3v, err := f.blobs.PutObject(context.Background(), key, mime, body)
	if err != nil {
		t.Fatal(err)
	}
	sc := files.Scan{Status: scan}
	file := files.File{AccountID: f.account, UUID: fu, VersionUUID: vu, Name: "x." + mime[6:], MimeType: mime, Size: int64(len(body)),
		TotalBytes: int64(len(body)), VersionCount: 1, CreatedAt: f.now, UpdatedAt: f.now, Scan: sc}
	if err := f.store.AddFile(file, files.Version{AccountID: f.account, FileUUID: fu, UUID: vu, Name: file.Name, MimeType: mime,
		Size: file.Size, Key: key, S3Version: s3v, CreatedAt: f.now, Scan: sc}); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestRender: a version gets its previews once its bytes may be served —
// never while pending, infected or failed; not for a format without
// previews or over the limits — recorded on the version and its file with
// file.preview_ready; a redelivery renders nothing; a crash after the
// images were stored is finished by the retry.
func TestRender(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	cases := []struct {
		name string
		file files.File
		want previews.Outcome
	}{
		{"clean", f.file(t, "image/png", []byte("png"), files.ScanClean), previews.Rendered},
		{"unscanned deployment", f.file(t, "image/png", []byte("png"), files.ScanOff), previews.Rendered},
		{"pending", f.file(t, "image/png", []byte("png"), files.ScanPending), previews.Waiting},
		{"infected", f.file(t, "image/png", []byte("png"), files.ScanInfected), previews.Refused},
		{"failed scan", f.file(t, "image/png", []byte("png"), files.ScanFailed), previews.Refused},
		{"text", f.file(t, "text/plain", []byte("txt"), files.ScanClean), previews.Unsupported},
		{"bomb", f.file(t, "image/png", []byte("bomb"), files.ScanClean), previews.Unsupported},
	}
	for _, c := range cases {
		got, err := f.svc.Render(ctx, f.account, c.file.UUID, c.file.VersionUUID)
		if err != nil || got != c.want {
			t.Fatalf("%s: %s, %v; want %s", c.name, got, err, c.want)
		}
		v, _ := f.store.GetVersion(ctx, f.account, c.file.UUID, c.file.VersionUUID)
		file, _ := f.store.GetFile(ctx, f.account, c.file.UUID)
		if rendered := c.want == previews.Rendered; rendered != (len(v.Previews) == 3) || rendered != (len(file.Previews) == 3) {
			t.Fatalf("%s: version previews %+v, file previews %+v", c.name, v.Previews, file.Previews)
		}
	}
	clean := cases[0].file
	if got, err := f.svc.Render(ctx, f.account, clean.UUID, clean.VersionUUID); err != nil || got != previews.Present {
		t.Fatalf("a redelivery: %s, %v", got, err)
	}
	if got, err := f.svc.Render(ctx, f.account, clean.UUID, uuid.Must(uuid.NewV7()).String()); err != nil || got != previews.Gone {
		t.Fatalf("a version nobody holds: %s, %v", got, err)
	}
	recs, _, _ := f.store.Records(ctx, outbox.Scan{AccountID: f.account, Until: f.now.Add(time.Hour), Limit: 100, Budget: 100})
	ready := 0
	for _, r := range recs {
		for _, ty := range r.Types() {
			if ty == outbox.FilePreviewReady {
				ready++
			}
		}
	}
	if ready != 2 {
		t.Fatalf("%d file.preview_ready events, want 2", ready)
	}

	// a crash after the images were stored: the retry records them once
	f.svc.Store = &crashOnce{Store: f.store}
	crashed := f.file(t, "image/png", []byte("png"), files.ScanClean)
	if _, err := f.svc.Render(ctx, f.account, crashed.UUID, crashed.VersionUUID); err == nil {
		t.Fatal("the injected crash was not reported")
	}
	if got, err := f.svc.Render(ctx, f.account, crashed.UUID, crashed.VersionUUID); err != nil || got != previews.Rendered {
		t.Fatalf("the retry: %s, %v", got, err)
	}
	for _, size := range files.PreviewSizes {
		if _, err := f.blobs.GetObject(ctx, files.PreviewKey(f.account, crashed.UUID, crashed.VersionUUID, size)); err != nil {
			t.Fatalf("preview %d: %v", size, err)
		}
	}
}
