package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/adapters/memory"
	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/keyring"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/testing/presigned"
)

// fake is a catalogue on the memory store and bucket with a clock the test
// moves; files are recorded straight into the store, their bytes into the
// bucket.
type fake struct {
	c     *catalog.Catalog
	store *memory.Store
	blobs *memory.Blobs
	p     auth.Principal
	now   time.Time
	scan  files.Scan // the next file's
}

func newFake(t *testing.T) *fake {
	t.Helper()
	f := &fake{store: &memory.Store{}, blobs: &memory.Blobs{}, now: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	srv := httptest.NewServer(f.blobs)
	t.Cleanup(srv.Close)
	f.blobs.Endpoint = srv.URL
	clock := func() time.Time { return f.now }
	f.c = &catalog.Catalog{Store: f.store, Blobs: f.blobs, Clock: clock,
		Cursors: &keyring.Ring{Store: &keyring.Memory{}, Purpose: "cursor", Lifetime: catalog.CursorTTL, Clock: clock}}
	f.p = auth.Principal{AccountID: uuid.NewString(), Name: "crm", Scopes: auth.AllScopes}
	if err := f.store.PutAccount(context.Background(), auth.Account{ID: f.p.AccountID, Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	return f
}

// file records a file whose bytes are body.
func (f *fake) file(t *testing.T, name, mime string, body []byte) files.File {
	t.Helper()
	ctx := context.Background()
	id, _, err := f.store.ReserveFileID(ctx, f.p.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	fu, vu := uuid.NewString(), uuid.Must(uuid.NewV7()).String()
	key := files.ObjectKey(f.p.AccountID, fu, vu)
	s3v, err := f.blobs.PutObject(ctx, key, mime, body)
	if err != nil {
		t.Fatal(err)
	}
	file := files.File{AccountID: f.p.AccountID, UUID: fu, ID: id, VersionUUID: vu, Name: name, Extension: "txt", MimeType: mime,
		Size: int64(len(body)), TotalBytes: int64(len(body)), VersionCount: 1, Source: "api", CreatedAt: f.now, UpdatedAt: f.now, CreatedBy: "crm",
		Scan: f.scan}
	f.now = f.now.Add(time.Second)
	err = f.store.AddFile(file, files.Version{AccountID: f.p.AccountID, FileUUID: fu, UUID: vu, Name: name,
		MimeType: mime, Size: file.Size, Key: key, S3Version: s3v, CreatedAt: file.CreatedAt, Scan: f.scan})
	if err != nil {
		t.Fatal(err)
	}
	return file
}

// TestListTrashRestorePurge: listing pages through a signed cursor, a
// download serves the bytes, trash hides them and frees the usage, restore
// brings both back, and the sweeper purges a file once its window passed.
func TestListTrashRestorePurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFake(t)
	a := f.file(t, "a.txt", "text/plain", []byte("alpha"))
	b := f.file(t, "b.txt", "text/plain", []byte("bravo!"))
	q, page, err := f.c.List(ctx, f.p, "limit=1")
	if err != nil || len(page.Files) != 1 || page.Files[0].UUID != b.UUID || page.Cursor == "" {
		t.Fatalf("first page = %+v %v", page, err)
	}
	cursor := page.Cursor
	_, page, err = f.c.List(ctx, f.p, "limit=1&cursor="+url.QueryEscape(cursor))
	if err != nil || len(page.Files) != 1 || page.Files[0].UUID != a.UUID || page.Cursor != "" || q.Limit != 1 {
		t.Fatalf("second page = %+v %v", page, err)
	}
	if _, _, err := f.c.List(ctx, auth.Principal{AccountID: uuid.NewString(), Scopes: auth.AllScopes}, "limit=1&cursor="+url.QueryEscape(cursor)); apperr.KindOf(err) != apperr.KindInvalid {
		t.Fatalf("another account's cursor: %v, want it refused", err)
	}
	get := func(uuid string) (int, string, error) {
		t.Helper()
		u, _, err := f.c.DownloadURL(ctx, f.p, uuid, "", false)
		if err != nil {
			return 0, "", err
		}
		status, h, body, err := presigned.Get(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return status, string(body) + " " + h.Get("Content-Disposition"), nil
	}
	if status, got, err := get(a.UUID); err != nil || status != 200 || got != `alpha attachment; filename="a.txt"; filename*=UTF-8''a.txt` {
		t.Fatalf("download = %d %q", status, got)
	}
	res, err := f.c.Trash(ctx, f.p, []string{a.UUID})
	if err != nil || len(res) != 1 || res[0].Err != nil || res[0].Status != "trashed" {
		t.Fatalf("Trash = %+v %v", res, err)
	}
	key := files.ObjectKey(f.p.AccountID, a.UUID, a.VersionUUID)
	if _, err := f.blobs.Head(ctx, key); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("a trashed file's object is current: %v", err)
	}
	if _, _, err := get(a.UUID); apperr.KindOf(err) != apperr.KindGone {
		t.Fatalf("downloading a trashed file: %v", err)
	}
	if u, _ := f.c.Usage(ctx, f.p); u.UsedBytes != 6 || u.TrashedBytes != 5 {
		t.Fatalf("usage after trash = %+v", u)
	}
	if res, err := f.c.Restore(ctx, f.p, []string{a.UUID}); err != nil || res[0].Err != nil {
		t.Fatalf("Restore = %+v %v", res, err)
	}
	if status, _, err := get(a.UUID); err != nil || status != 200 {
		t.Fatalf("download after restore: %d", status)
	}
	if _, err := f.c.Trash(ctx, f.p, []string{a.UUID}); err != nil {
		t.Fatal(err)
	}
	if n, err := f.c.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("a sweep inside the window purged %d (%v)", n, err)
	}
	f.now = f.now.Add(catalog.TrashWindow + time.Hour)
	if n, err := f.c.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("a sweep after the window purged %d (%v)", n, err)
	}
	if _, err := f.c.Get(ctx, f.p, a.UUID); apperr.KindOf(err) != apperr.KindNotFound {
		t.Fatalf("a purged file: %v", err)
	}
	if vs, _ := f.blobs.Versions(ctx, key); len(vs) != 0 {
		t.Fatalf("a purged file's object keeps %d versions", len(vs))
	}
	if u, _ := f.c.Usage(ctx, f.p); u.UsedBytes != 6 || u.TrashedBytes != 0 || u.FileCount != 1 {
		t.Fatalf("usage after the sweep = %+v", u)
	}
}

// records reads the account's outbox.
func (f *fake) records(t *testing.T) []outbox.Record {
	t.Helper()
	recs, _, err := f.store.Records(context.Background(), outbox.Scan{AccountID: f.p.AccountID, Until: f.now.Add(time.Hour), Limit: 1000, Budget: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// conflicted is a store whose next RestoreFile fails as DynamoDB cancels
// a transaction another one raced (TransactionConflict), changing nothing.
type conflicted struct {
	*memory.Store
	once bool
}

func (s *conflicted) RestoreFile(ctx context.Context, f files.File, now time.Time, rec *outbox.Record) error {
	if !s.once {
		s.once = true
		return fmt.Errorf("%w: transaction conflict", apperr.ErrConflict)
	}
	return s.Store.RestoreFile(ctx, f, now, rec)
}

// TestRestoreConflict: a restore whose write another request's raced
// answers file_changed (not purge_window_passed: the window is open) and
// leaves the objects it showed hidden again, as the trashed file says; the
// same restore again succeeds.
func TestRestoreConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFake(t)
	a := f.file(t, "a.txt", "text/plain", []byte("alpha"))
	if _, err := f.c.Trash(ctx, f.p, []string{a.UUID}); err != nil {
		t.Fatal(err)
	}
	c := *f.c
	c.Store = &conflicted{Store: f.store}
	res, err := c.Restore(ctx, f.p, []string{a.UUID})
	if e, ok := apperr.As(res[0].Err); err != nil || !ok || e.Code != "file_changed" {
		t.Fatalf("Restore = %+v %v, want file_changed", res, err)
	}
	key := files.ObjectKey(f.p.AccountID, a.UUID, a.VersionUUID)
	if got, err := c.Get(ctx, f.p, a.UUID); err != nil || !got.IsTrashed {
		t.Fatalf("the file after: %+v %v, want trashed", got, err)
	}
	if _, err := f.blobs.Head(ctx, key); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("the trashed file's object is current: %v", err)
	}
	if res, err := c.Restore(ctx, f.p, []string{a.UUID}); err != nil || res[0].Err != nil {
		t.Fatalf("the restore again = %+v %v", res, err)
	}
	if _, err := f.blobs.Head(ctx, key); err != nil {
		t.Fatalf("the restored file's object: %v", err)
	}
}
