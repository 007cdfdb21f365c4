package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// testEntities: directory entries with a per-type code alias that moves
// with the code, optimistic updates, and sequences.
func testEntities(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	e := entities.Entity{AccountID: acct, Type: entities.Lead, UUID: uuid.NewString(), Code: 7, Title: "Acme deal",
		CreatedAt: now, UpdatedAt: now, CreatedBy: "crm", UpdatedBy: "crm"}
	if err := s.PutEntity(ctx, e, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PutEntity(ctx, e, nil); !errors.Is(err, entities.ErrExists) {
		t.Fatalf("creating twice: %v, want ErrExists", err)
	}
	other := e
	other.UUID = uuid.NewString()
	if err := s.PutEntity(ctx, other, nil); !errors.Is(err, entities.ErrCodeTaken) {
		t.Fatalf("another entity with the code: %v, want ErrCodeTaken", err)
	}
	other.Type = entities.Deal // codes are per type
	if err := s.PutEntity(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.EntityByCode(ctx, acct, entities.Lead, 7); err != nil || got.UUID != e.UUID || got.Title != "Acme deal" || !got.CreatedAt.Equal(now) {
		t.Fatalf("EntityByCode = %+v %v", got, err)
	}
	moved := e
	moved.Code, moved.Title, moved.UpdatedAt = 8, "Acme renewal", now.Add(time.Minute)
	if err := s.PutEntity(ctx, moved, &e); err != nil {
		t.Fatal(err)
	}
	if err := s.PutEntity(ctx, moved, &e); !errors.Is(err, entities.ErrStale) {
		t.Fatalf("updating from a stale read: %v, want ErrStale", err)
	}
	if _, err := s.EntityByCode(ctx, acct, entities.Lead, 7); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("the old code: %v, want ErrNotFound", err)
	}
	if got, err := s.GetEntity(ctx, acct, entities.Lead, e.UUID); err != nil || got.Code != 8 || got.Title != "Acme renewal" {
		t.Fatalf("GetEntity = %+v %v", got, err)
	}
	if _, err := s.GetEntity(ctx, account(t, s, 0), entities.Lead, e.UUID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("another account's entity: %v", err)
	}
	for want := int64(1); want <= 2; want++ {
		if n, err := s.NextCode(ctx, acct, entities.Contact); err != nil || n != want {
			t.Fatalf("NextCode = %d %v, want %d", n, err, want)
		}
	}
	if n, _ := s.NextCode(ctx, acct, entities.Company); n != 1 {
		t.Fatalf("codes are per type: %d", n)
	}
	if n, _ := s.NextSeq(ctx, acct, "event"); n != 1 {
		t.Fatalf("NextSeq = %d", n)
	}
}

// testAttachments: attach conditions (file untrashed, pinned version
// present, new — a field value may move to another version), usages, an
// entity's files page by page and by kind, detach, and purge removing a
// file's attachments.
func testAttachments(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	a1 := put(t, s, acct, "a.pdf", 10, now)
	a := addVersion(t, s, a1, "a2.pdf", 10)
	b := put(t, s, acct, "b.pdf", 10, now.Add(time.Second))
	gone := put(t, s, acct, "gone.pdf", 10, now)
	if err := s.TrashFile(ctx, gone, now, now.Add(time.Hour), "crm", nil); err != nil {
		t.Fatal(err)
	}
	lead := entities.Ref{Type: entities.Lead, UUID: uuid.NewString()}
	att := func(fileUUID string, created time.Time, kind entities.Kind, ref, version string) entities.Attachment {
		return entities.Attachment{Entity: lead, FileUUID: fileUUID, Kind: kind, RefID: ref, VersionUUID: version,
			FileCreated: created, AttachedAt: now, AttachedBy: "crm"}
	}
	for _, tc := range []struct {
		at   entities.Attachment
		want error
	}{
		{att(a.UUID, a.CreatedAt, entities.KindMedia, "", ""), nil},
		{att(a.UUID, a.CreatedAt, entities.KindMedia, "", ""), entities.ErrAlreadyAttached},
		{att(a.UUID, a.CreatedAt, entities.KindNote, "n1", ""), nil},
		{att(a.UUID, a.CreatedAt, entities.KindField, "f1", a1.VersionUUID), nil},
		{att(a.UUID, a.CreatedAt, entities.KindField, "f1", a1.VersionUUID), entities.ErrAlreadyAttached},
		{att(a.UUID, a.CreatedAt, entities.KindField, "f1", a.VersionUUID), nil}, // the field moves to v2
		{att(a.UUID, a.CreatedAt, entities.KindField, "f2", uuid.NewString()), entities.ErrVersionGone},
		{att(gone.UUID, gone.CreatedAt, entities.KindMedia, "", ""), entities.ErrFileGone},
		{att(uuid.NewString(), now, entities.KindMedia, "", ""), entities.ErrFileGone},
		{att(b.UUID, b.CreatedAt, entities.KindMedia, "", ""), nil},
	} {
		if err := s.Attach(ctx, acct, tc.at, nil); !errors.Is(err, tc.want) && (tc.want != nil || err != nil) {
			t.Fatalf("Attach %s %s %s: %v, want %v", tc.at.FileUUID, tc.at.Kind, tc.at.VersionUUID, err, tc.want)
		}
	}
	us, err := s.Usages(ctx, acct, a.UUID)
	if err != nil || len(us) != 3 || !slices.ContainsFunc(us, func(u entities.Attachment) bool {
		return u.Kind == entities.KindField && u.VersionUUID == a.VersionUUID && u.RefID == "f1"
	}) {
		t.Fatalf("Usages = %+v %v", us, err)
	}
	list := func(start *catalog.Position, kinds ...entities.Kind) catalog.ListResult {
		t.Helper()
		q := catalog.Query{DateField: "created_at", Now: now, Entity: &catalog.EntityFilter{Ref: lead, UUID: lead.UUID, Kinds: kinds}}
		res, err := s.ListEntityFiles(ctx, catalog.ListRequest{AccountID: acct, Query: q, Start: start, Need: 1, Budget: 1000, PerCall: 500})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := list(nil)
	if len(first.Files) != 1 || first.Files[0].UUID != b.UUID || len(first.Attachments[b.UUID]) != 1 || first.Next == nil {
		t.Fatalf("the entity's newest file = %+v", first)
	}
	second := list(first.Next)
	if len(second.Files) != 1 || second.Files[0].UUID != a.UUID || len(second.Attachments[a.UUID]) != 3 || second.Next != nil {
		t.Fatalf("the entity's next file = %+v", second)
	}
	if notes := list(nil, entities.KindNote); len(notes.Files) != 1 || notes.Files[0].UUID != a.UUID || len(notes.Attachments[a.UUID]) != 1 {
		t.Fatalf("notes only = %+v", notes)
	}
	if n, err := s.Detach(ctx, acct, att(a.UUID, a.CreatedAt, entities.KindNote, "n1", ""), noRecord); err != nil || n != 1 {
		t.Fatalf("Detach note = %d %v", n, err)
	}
	if n, _ := s.Detach(ctx, acct, att(a.UUID, a.CreatedAt, entities.KindNote, "n1", ""), noRecord); n != 0 {
		t.Fatalf("detaching twice = %d", n)
	}
	if n, err := s.Detach(ctx, acct, att(a.UUID, a.CreatedAt, "", "", ""), noRecord); err != nil || n != 2 {
		t.Fatalf("Detach every kind = %d %v", n, err)
	}
	if us, _ := s.Usages(ctx, acct, a.UUID); len(us) != 0 {
		t.Fatalf("usages after detach = %+v", us)
	}
	if err := s.TrashFile(ctx, b, now, now.Add(time.Hour), "crm", nil); err != nil {
		t.Fatal(err)
	}
	tb, _ := s.GetFile(ctx, acct, b.UUID)
	if err := s.PurgeFile(ctx, tb, nil, nil); err != nil {
		t.Fatal(err)
	}
	if us, _ := s.Usages(ctx, acct, b.UUID); len(us) != 0 {
		t.Fatalf("a purged file's usages = %+v", us)
	}
	if ids, _ := s.FileUUIDsByID(ctx, acct, []int64{a.ID, 999}); len(ids) != 1 || ids[a.ID] != a.UUID {
		t.Fatalf("FileUUIDsByID = %v", ids)
	}
}

// noRecord makes no event record of a detach.
func noRecord([]entities.Attachment) *outbox.Record { return nil }
