package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/batches"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
)

// batch is a pending batch of files of the given sizes, with numeric ids
// from first, attached to a lead.
func batch(acct string, first int64, sizes ...int64) batches.Batch {
	title := "Contract"
	b := batches.Batch{AccountID: acct, ID: uuid.NewString(), Title: &title, CreatedBy: "crm", CreatedByID: "7",
		Target:    entities.Entity{AccountID: acct, Type: entities.Lead, UUID: uuid.NewString(), Code: 12},
		CreatedAt: now, UpdatedAt: now, Status: batches.StatusPending, StaleAt: now.Add(time.Hour), Fingerprint: "f"}
	for i, size := range sizes {
		fu, vu := uuid.NewString(), uuid.Must(uuid.NewV7()).String()
		f := files.File{AccountID: acct, UUID: fu, ID: first + int64(i), VersionUUID: vu, Name: "scan.pdf", Extension: "pdf",
			Size: size, TotalBytes: size, VersionCount: 1, Source: "wegly", CreatedAt: now, UpdatedAt: now, CreatedBy: "crm"}
		v := files.Version{AccountID: acct, FileUUID: fu, UUID: vu, Name: "scan.pdf", Size: size, Key: acct + "/" + fu + "/" + vu,
			S3Version: "v1", CreatedAt: now}
		b.Items = append(b.Items, batches.Item{File: f, Version: v})
		b.TotalSize += size
	}
	return b
}

// testBatches: a batch is recorded pending, then committed all at once
// (files, versions, ids, attachments, counters) inside its window and the
// quota, once; a stale pending batch is due for the sweeper.
func testBatches(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 100)
	first, _, err := s.ReserveFileIDs(ctx, acct, 2)
	if err != nil || first != 1 {
		t.Fatalf("ReserveFileIDs = %d %v", first, err)
	}
	if id, _, _ := s.ReserveFileID(ctx, acct); id != 3 {
		t.Fatalf("the id after a reserved block = %d", id)
	}
	b := batch(acct, first, 10, 20)
	if err := s.PutPending(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPending(ctx, b); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("recording a batch twice: %v, want ErrConflict", err)
	}
	if got, err := s.GetBatch(ctx, acct, b.ID); err != nil || got.Status != batches.StatusPending || len(got.Items) != 2 || got.Fingerprint != "f" ||
		got.Title == nil || *got.Title != "Contract" || got.Target.UUID != b.Target.UUID {
		t.Fatalf("GetBatch = %+v %v", got, err)
	}
	if due, err := s.DuePending(ctx, b.StaleAt, 10); err != nil || len(due) != 0 {
		t.Fatalf("due at its stale time itself = %+v %v", due, err)
	}
	if due, err := s.DuePending(ctx, now.Add(2*time.Hour), 10); err != nil || len(due) != 1 || due[0].ID != b.ID {
		t.Fatalf("DuePending = %+v %v", due, err)
	}
	if err := s.CommitBatch(ctx, b, b.StaleAt, nil); !errors.Is(err, batches.ErrNotPending) {
		t.Fatalf("committing at the end of the window: %v, want ErrNotPending", err)
	}
	if err := s.CommitBatch(ctx, b, now, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitBatch(ctx, b, now, nil); !errors.Is(err, batches.ErrNotPending) {
		t.Fatalf("committing twice: %v, want ErrNotPending", err)
	}
	if got, _ := s.GetBatch(ctx, acct, b.ID); got.Status != batches.StatusCompleted {
		t.Fatalf("status after commit = %s", got.Status)
	}
	f := b.Items[1].File
	if got, err := s.GetFile(ctx, acct, f.UUID); err != nil || got.Size != 20 || got.ID != 2 || got.Source != "wegly" {
		t.Fatalf("a batch's file = %+v %v", got, err)
	}
	if v, err := s.GetVersion(ctx, acct, f.UUID, f.VersionUUID); err != nil || v.S3Version != "v1" {
		t.Fatalf("a batch's version = %+v %v", v, err)
	}
	if us, _ := s.Usages(ctx, acct, f.UUID); len(us) != 1 || us[0].Entity.UUID != b.Target.UUID || us[0].Kind != entities.KindMedia {
		t.Fatalf("a batch's attachment = %+v", us)
	}
	if u, _ := s.Usage(ctx, acct); u.UsedBytes != 30 || u.FileCount != 2 || u.VersionCount != 2 {
		t.Fatalf("usage after a batch = %+v", u)
	}
	if due, _ := s.DuePending(ctx, now.Add(2*time.Hour), 10); len(due) != 0 {
		t.Fatalf("a committed batch is due: %+v", due)
	}
	if err := s.DeletePending(ctx, b); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("deleting a committed batch: %v, want ErrConflict", err)
	}
	big := batch(acct, 4, 71)
	if err := s.PutPending(ctx, big); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitBatch(ctx, big, now, nil); !errors.Is(err, apperr.ErrQuota) {
		t.Fatalf("a batch past the quota: %v, want ErrQuota", err)
	}
	if _, err := s.GetFile(ctx, acct, big.Items[0].File.UUID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("a refused batch left a file: %v", err)
	}
	if err := s.DeletePending(ctx, big); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetBatch(ctx, acct, big.ID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("a deleted batch: %v", err)
	}
}
