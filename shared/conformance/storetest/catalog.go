package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/files"
)

// put records a new file of size bytes created at, through a session, as
// completion does; its version uuid is a UUIDv7, as the service makes them.
func put(t *testing.T, s Store, acct, name string, size int64, at time.Time) files.File {
	t.Helper()
	ctx := context.Background()
	id, _, err := s.ReserveFileID(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	sess := session(acct, size)
	sess.FileName, sess.FileID, sess.VersionUUID = name, id, uuid.Must(uuid.NewV7()).String()
	if err := s.PutSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	c := commitOf(sess, files.File{})
	c.File.CreatedAt, c.File.UpdatedAt, c.File.TotalBytes = at, at, size
	c.File.Extension = name[strings.LastIndexByte(name, '.')+1:]
	if err := s.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	f, err := s.GetFile(ctx, acct, sess.FileUUID)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// addVersion records a new version of f through a session.
func addVersion(t *testing.T, s Store, f files.File, name string, size int64) files.File {
	t.Helper()
	ctx := context.Background()
	sess := session(f.AccountID, size)
	sess.NewFile, sess.FileUUID, sess.FileName, sess.VersionUUID = false, f.UUID, name, uuid.Must(uuid.NewV7()).String()
	if err := s.PutSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, commitOf(sess, f)); err != nil {
		t.Fatal(err)
	}
	f, err := s.GetFile(ctx, f.AccountID, f.UUID)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// page lists one page of an account's files.
func page(t *testing.T, s Store, acct string, q catalog.Query, start *catalog.Position, need, budget int) ([]string, *catalog.Position) {
	t.Helper()
	q.DateField, q.Now = "created_at", now
	res, err := s.ListFiles(context.Background(), catalog.ListRequest{AccountID: acct, Query: q, Start: start, Need: need, Budget: budget, PerCall: 500})
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(res.Files))
	for i, f := range res.Files {
		names[i] = f.Name
	}
	return names, res.Next
}

// testListing: an account's files in creation order either way, page
// after page, filtered, and a page whose budget runs out comes back short
// with a next position.
func testListing(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	a := put(t, s, acct, "a.pdf", 10, now)
	b := put(t, s, acct, "b.txt", 20, now.Add(time.Second))
	put(t, s, acct, "c.pdf", 30, now.Add(2*time.Second))
	put(t, s, account(t, s, 0), "other.pdf", 1, now) // another account's

	got, next := page(t, s, acct, catalog.Query{}, nil, 2, 1000)
	if !slices.Equal(got, []string{"c.pdf", "b.txt"}) || next == nil {
		t.Fatalf("first page newest first = %v next %v", got, next)
	}
	if got, next = page(t, s, acct, catalog.Query{}, next, 2, 1000); !slices.Equal(got, []string{"a.pdf"}) || next != nil {
		t.Fatalf("second page = %v next %v", got, next)
	}
	if got, next = page(t, s, acct, catalog.Query{Ascending: true}, nil, 3, 1000); !slices.Equal(got, []string{"a.pdf", "b.txt", "c.pdf"}) || next != nil {
		t.Fatalf("oldest first = %v next %v", got, next)
	}
	if got, _ = page(t, s, acct, catalog.Query{Extensions: []string{"pdf"}}, nil, 5, 1000); !slices.Equal(got, []string{"c.pdf", "a.pdf"}) {
		t.Fatalf("pdf only = %v", got)
	}
	got, next = page(t, s, acct, catalog.Query{Extensions: []string{"txt"}}, nil, 1, 1)
	if len(got) != 0 || next == nil {
		t.Fatalf("a page whose budget ran out before a match = %v next %v, want none and a next position", got, next)
	}
	if got, _ = page(t, s, acct, catalog.Query{Extensions: []string{"txt"}}, next, 1, 1000); !slices.Equal(got, []string{"b.txt"}) {
		t.Fatalf("after the budget-limited page = %v", got)
	}
	fs, err := s.GetFiles(ctx, acct, []string{a.UUID, uuid.NewString(), b.UUID, a.UUID})
	if err != nil || len(fs) != 2 || !slices.ContainsFunc(fs, func(f files.File) bool { return f.UUID == a.UUID && f.Size == 10 }) {
		t.Fatalf("GetFiles = %+v %v", fs, err)
	}
}

// testVersions: a file's versions newest first, a page at a time, and
// promotion of an older one (not of an unknown one).
func testVersions(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	f1 := put(t, s, acct, "v1.pdf", 10, now)
	f2 := addVersion(t, s, f1, "v2.pdf", 20)
	vs, next, err := s.ListVersions(ctx, acct, f1.UUID, nil, 1)
	if err != nil || len(vs) != 1 || vs[0].UUID != f2.VersionUUID || next == nil {
		t.Fatalf("first page of versions = %+v %v %v", vs, next, err)
	}
	if vs, _, err = s.ListVersions(ctx, acct, f1.UUID, next, 1); err != nil || len(vs) != 1 || vs[0].UUID != f1.VersionUUID {
		t.Fatalf("second page of versions = %+v %v", vs, err)
	}
	if vs, next, err = s.ListVersions(ctx, acct, f1.UUID, nil, 5); err != nil || len(vs) != 2 || vs[0].Size != 20 || vs[1].Size != 10 || next != nil {
		t.Fatalf("all versions = %+v %v %v", vs, next, err)
	}
	back := f2
	back.VersionUUID, back.Name, back.Size, back.UpdatedAt = f1.VersionUUID, "v1.pdf", 10, now.Add(time.Minute)
	if err := s.PromoteVersion(ctx, back, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetFile(ctx, acct, f1.UUID); got.VersionUUID != f1.VersionUUID || got.Name != "v1.pdf" || got.Size != 10 || got.VersionCount != 2 || got.TotalBytes != 30 {
		t.Fatalf("after promotion = %+v", got)
	}
	back.VersionUUID = uuid.NewString()
	if err := s.PromoteVersion(ctx, back, nil); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("promoting an unknown version: %v, want ErrConflict", err)
	}
}

// testTrash: trash moves a file's bytes from used to trashed, restore
// needs the window and the quota, purge removes the records and is due
// after the window.
func testTrash(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 100)
	a := put(t, s, acct, "a.pdf", 40, now)
	b := put(t, s, acct, "b.pdf", 30, now)
	purgeAt, by := now.Add(30*24*time.Hour), "crm"
	stale := a
	stale.VersionCount++
	if err := s.TrashFile(ctx, stale, now, purgeAt, by, nil); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("trashing a file that changed since it was read: %v, want ErrConflict", err)
	}
	if err := s.TrashFile(ctx, a, now, purgeAt, by, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.TrashFile(ctx, a, now, purgeAt, by, nil); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("trashing twice: %v, want ErrConflict", err)
	}
	ta, _ := s.GetFile(ctx, acct, a.UUID)
	if !ta.IsTrashed || ta.PurgeAt == nil || !ta.PurgeAt.Equal(purgeAt) || ta.DeletedBy == nil || *ta.DeletedBy != by {
		t.Fatalf("trashed file = %+v", ta)
	}
	if u, _ := s.Usage(ctx, acct); u.UsedBytes != 30 || u.TrashedBytes != 40 || u.FileCount != 1 || u.VersionCount != 1 {
		t.Fatalf("usage after trash = %+v", u)
	}
	if got, _ := page(t, s, acct, catalog.Query{}, nil, 5, 1000); !slices.Equal(got, []string{"b.pdf"}) {
		t.Fatalf("active files = %v", got)
	}
	if got, _ := page(t, s, acct, catalog.Query{Deleted: true}, nil, 5, 1000); !slices.Equal(got, []string{"a.pdf"}) {
		t.Fatalf("the trash = %v", got)
	}
	c := put(t, s, acct, "c.pdf", 60, now) // used 90 of 100
	if err := s.RestoreFile(ctx, ta, now, nil); !errors.Is(err, apperr.ErrQuota) {
		t.Fatalf("restoring past the quota: %v, want ErrQuota", err)
	}
	if err := s.TrashFile(ctx, c, now, purgeAt, by, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RestoreFile(ctx, ta, purgeAt, nil); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("restoring at the end of the window: %v, want ErrConflict", err)
	}
	if err := s.RestoreFile(ctx, ta, now, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetFile(ctx, acct, a.UUID); got.IsTrashed || got.PurgeAt != nil || got.DeletedBy != nil {
		t.Fatalf("restored file = %+v", got)
	}
	if u, _ := s.Usage(ctx, acct); u.UsedBytes != 70 || u.TrashedBytes != 60 || u.FileCount != 2 {
		t.Fatalf("usage after restore = %+v", u)
	}
	if due, err := s.DuePurges(ctx, purgeAt, 10); err != nil || len(due) != 0 {
		t.Fatalf("due at the purge time itself = %+v %v", due, err)
	}
	due, err := s.DuePurges(ctx, purgeAt.Add(time.Second), 10)
	if err != nil || len(due) != 1 || due[0].UUID != c.UUID || due[0].AccountID != acct {
		t.Fatalf("due purges = %+v %v", due, err)
	}
	tc := due[0]
	if err := s.PurgeFile(ctx, b, nil, nil); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("purging an active file: %v, want ErrConflict", err)
	}
	if err := s.PurgeFile(ctx, tc, []files.Version{{AccountID: acct, FileUUID: c.UUID, UUID: c.VersionUUID}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetFile(ctx, acct, c.UUID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("a purged file: %v", err)
	}
	if _, err := s.GetVersion(ctx, acct, c.UUID, c.VersionUUID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("a purged version: %v", err)
	}
	if ids, _ := s.FileUUIDsByID(ctx, acct, []int64{c.ID, a.ID}); len(ids) != 1 || ids[a.ID] != a.UUID {
		t.Fatalf("numeric ids after purge = %v", ids)
	}
	if err := s.PurgeFile(ctx, tc, nil, nil); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("purging twice: %v, want ErrConflict", err)
	}
	if u, _ := s.Usage(ctx, acct); u.UsedBytes != 70 || u.TrashedBytes != 0 || u.FileCount != 2 {
		t.Fatalf("usage after purge = %+v", u)
	}
}
