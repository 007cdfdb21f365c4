package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// testPreviews: a version's previews are recorded once (with its record),
// on its file while it is main; a version no longer main records them on
// itself only; a new main version leaves its file without previews until
// its own; a promotion carries the promoted version's previews, and
// conflicts when they changed since it was read.
func testPreviews(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	f1 := put(t, s, acct, "photo.jpg", 10, now)
	previewsOf := func(f files.File) files.Previews {
		var ps files.Previews
		for _, size := range files.PreviewSizes {
			ps = append(ps, files.Preview{Size: size, Width: size, Height: size * 3 / 4, Type: "image/jpeg",
				Key: files.PreviewKey(acct, f.UUID, f.VersionUUID, size)})
		}
		return ps
	}
	record := func(f files.File, main bool) error {
		v, err := s.GetVersion(ctx, acct, f.UUID, f.VersionUUID)
		if err != nil {
			t.Fatal(err)
		}
		v.Previews = previewsOf(f)
		return s.RecordPreviews(ctx, v, main, outbox.OfFile(outbox.FilePreviewReady, f, &v, "", now))
	}
	if err := record(f1, true); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetFile(ctx, acct, f1.UUID)
	v1, _ := s.GetVersion(ctx, acct, f1.UUID, f1.VersionUUID)
	if len(got.Previews) != 3 || got.Previews[2].Size != 1024 || got.Previews[2].Height != 768 || got.Previews[2].Key == "" ||
		len(v1.Previews) != 3 || v1.Previews[0].Type != "image/jpeg" {
		t.Fatalf("recorded previews: file %+v, version %+v", got.Previews, v1.Previews)
	}
	if err := record(f1, true); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("recording previews twice: %v, want ErrConflict", err)
	}
	f2 := addVersion(t, s, got, "photo-2.jpg", 20)
	if len(f2.Previews) != 0 {
		t.Fatalf("a new main version's file shows the old one's previews: %+v", f2.Previews)
	}
	if err := record(f2, true); err != nil {
		t.Fatal(err)
	}
	// promoting v1 back: with its previews; read stale (without), refused
	back := f2
	back.VersionUUID, back.Name, back.Size, back.UpdatedAt, back.Previews = f1.VersionUUID, "photo.jpg", 10, now.Add(time.Minute), nil
	if err := s.PromoteVersion(ctx, back, nil); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("a promotion read without the version's previews: %v, want ErrConflict", err)
	}
	back.Previews = v1.Previews
	if err := s.PromoteVersion(ctx, back, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetFile(ctx, acct, f1.UUID); got.VersionUUID != f1.VersionUUID || len(got.Previews) != 3 || got.Previews[0].Key != v1.Previews[0].Key {
		t.Fatalf("after the promotion: %+v", got.Previews)
	}
	// a version that is not main records on itself only
	f3 := put(t, s, acct, "scan.pdf", 5, now)
	f4 := addVersion(t, s, f3, "scan-2.pdf", 6)
	if err := record(f3, true); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("recording as main for a version no longer main: %v, want ErrConflict", err)
	}
	if err := record(f3, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetFile(ctx, acct, f4.UUID); len(got.Previews) != 0 {
		t.Fatalf("the file took an older version's previews: %+v", got.Previews)
	}
	// a file with previews is trashed and due for its purge like any other
	fresh, _ := s.GetFile(ctx, acct, f1.UUID)
	if err := s.TrashFile(ctx, fresh, now, now.Add(time.Hour), "crm", nil); err != nil {
		t.Fatal(err)
	}
	due, err := s.DuePurges(ctx, now.Add(2*time.Hour), 10)
	if err != nil || !slices.ContainsFunc(due, func(f files.File) bool { return f.UUID == f1.UUID }) || len(due[0].Previews) != 3 {
		t.Fatalf("a trashed file with previews is not due: %+v, %v", due, err)
	}
	// the same with previews recorded last
	f5 := put(t, s, acct, "last.png", 7, now)
	v5, _ := s.GetVersion(ctx, acct, f5.UUID, f5.VersionUUID)
	at := now.Truncate(time.Second)
	v5.Scan = files.Scan{Status: files.ScanClean, ScannedAt: &at}
	if err := s.RecordScan(ctx, v5, files.ScanPending, true, nil); err != nil {
		t.Fatal(err)
	}
	if err := record(f5, true); err != nil {
		t.Fatal(err)
	}
	f5, _ = s.GetFile(ctx, acct, f5.UUID)
	if err := s.TrashFile(ctx, f5, now, now.Add(time.Hour), "crm", nil); err != nil {
		t.Fatal(err)
	}
	due, err = s.DuePurges(ctx, now.Add(2*time.Hour), 10)
	if err != nil || !slices.ContainsFunc(due, func(f files.File) bool { return f.UUID == f5.UUID }) {
		t.Fatalf("a trashed file with previews recorded last is not due: %d, %v", len(due), err)
	}
}
