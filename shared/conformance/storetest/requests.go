package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/requests"
	"github.com/anexo/anexo/shared/domain/upload"
)

func fileRequest(acct string, at time.Time) requests.Request {
	id, _ := uuid.NewV7()
	return requests.Request{AccountID: acct, ID: id.String(), Title: "Documentos", Message: "Olá,\nenvie por favor.",
		Target:   requests.Target{Entity: entities.Ref{Type: entities.Deal, UUID: uuid.NewString(), Code: 9001}, Title: "Venda", Kind: entities.KindMedia},
		Slots:    []requests.Slot{{Name: "RG", Required: true, Accept: []string{".pdf", "image/*"}, MaxSize: 1 << 20, MaxFiles: 1}, {Name: "Outros", MaxSize: 1 << 20, MaxFiles: 2}},
		MaxFiles: 3, MaxBytes: 1 << 20, ExpiresAt: at.Add(7 * 24 * time.Hour).Truncate(time.Second), Passcode: "pbkdf2-sha256$1$c2FsdA$a2V5",
		LinkHash: uuid.NewString(), CreatedAt: at.Truncate(time.Second), CreatedBy: "crm", TokenID: "t"}
}

// testRequests: a request and its link are created together with their
// event; read by id and by link; listed newest first in pages; a write
// lands only on the revision it read, and a new link replaces the old.
func testRequests(t *testing.T, s Store) {
	ctx := context.Background()
	a := account(t, s, 0)
	before := 0
	wrote(t, s, a, &before, outbox.FileRequestCreated, 0)
	r := fileRequest(a, now)
	if err := s.CreateRequest(ctx, r, outbox.NewRecord(a, now).Add(outbox.FileRequestCreated, r.EventData(nil, now))); err != nil {
		t.Fatal(err)
	}
	wrote(t, s, a, &before, outbox.FileRequestCreated, 1)
	if err := s.CreateRequest(ctx, r, nil); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("creating it again: %v, want ErrConflict", err)
	}
	got, err := s.GetRequest(ctx, a, r.ID)
	if err != nil || got.Title != r.Title || got.Message != r.Message || len(got.Slots) != 2 || got.Slots[0].Accept[1] != "image/*" ||
		got.Slots[1].Accept != nil && len(got.Slots[1].Accept) != 0 || got.Target != r.Target || !got.ExpiresAt.Equal(r.ExpiresAt) ||
		got.Passcode != r.Passcode || got.Rev != 0 || len(got.Received) != 0 {
		t.Fatalf("GetRequest = %+v %v", got, err)
	}
	if by, err := s.RequestByLink(ctx, r.LinkHash); err != nil || by.ID != r.ID {
		t.Fatalf("RequestByLink = %+v %v", by, err)
	}
	if _, err := s.RequestByLink(ctx, "no-such-link"); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("an unknown link: %v", err)
	}
	if _, err := s.GetRequest(ctx, account(t, s, 0), r.ID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("another account's request: %v", err)
	}
	// writes before any receipt (wrong passcodes counted)
	for rev := int64(1); rev <= 2; rev++ {
		failed := got
		failed.Failures, failed.FailedSince, failed.Opens, failed.OpensSince, failed.Rev = int(rev), now.Truncate(time.Second), int(rev), now.Truncate(time.Second), rev
		if err := s.UpdateRequest(ctx, requests.Write{Request: failed, Prev: rev - 1}); err != nil {
			t.Fatalf("write %d without receipts: %v", rev, err)
		}
		if got, err = s.GetRequest(ctx, a, r.ID); err != nil || got.Failures != int(rev) || !got.FailedSince.Equal(failed.FailedSince) ||
			got.Opens != int(rev) || !got.OpensSince.Equal(failed.OpensSince) ||
			len(got.Received) != 0 || len(got.Slots[0].Accept) != 2 {
			t.Fatalf("after write %d without receipts: %+v %v", rev, got, err)
		}
	}

	// a receipt, an attachment and events, on the revision read
	f := put(t, s, a, "rg.pdf", 10, now)
	rc := requests.Receipt{Slot: "RG", FileUUID: f.UUID, VersionUUID: f.VersionUUID, Name: "rg.pdf", Size: 10, MimeType: "application/pdf",
		Uploader: requests.Uploader{Name: "Maria", Email: "maria@example.com"}, ReceivedAt: now.Truncate(time.Second), Status: requests.ReceiptAttached}
	next := got
	next.Received, next.FulfilledAt, next.Rev = []requests.Receipt{rc}, now.Truncate(time.Second), 3
	att := next.Attachment(f, files.Version{UUID: f.VersionUUID}, "Maria", now)
	w := requests.Write{Request: next, Prev: 2, Attach: []entities.Attachment{att},
		Events: outbox.NewRecord(a, now).Add(outbox.FileRequestFulfilled, next.EventData(nil, now))}
	if err := s.UpdateRequest(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateRequest(ctx, w); !errors.Is(err, requests.ErrChanged) {
		t.Fatalf("a write on a revision gone: %v, want ErrChanged", err)
	}
	wrote(t, s, a, &before, outbox.FileRequestFulfilled, 1)
	got, _ = s.GetRequest(ctx, a, r.ID)
	if got.Rev != 3 || len(got.Received) != 1 || got.Received[0] != rc || !got.FulfilledAt.Equal(next.FulfilledAt) {
		t.Fatalf("after the write: %+v", got)
	}
	if us, err := s.Usages(ctx, a, f.UUID); err != nil || len(us) != 1 || us[0].Entity.UUID != r.Target.Entity.UUID {
		t.Fatalf("the receipt's attachment: %+v %v", us, err)
	}

	// a new link: the old one opens nothing
	old := got.LinkHash
	got.LinkHash, got.Rev = uuid.NewString(), 4
	if err := s.UpdateRequest(ctx, requests.Write{Request: got, Prev: 3, OldLink: old}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RequestByLink(ctx, old); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("the replaced link: %v", err)
	}
	if by, err := s.RequestByLink(ctx, got.LinkHash); err != nil || by.Rev != 4 || len(by.Received) != 1 {
		t.Fatalf("the new link: %+v %v", by, err)
	}

	// newest first, in pages
	ids := []string{r.ID}
	for i := range 4 {
		n := fileRequest(a, now.Add(time.Duration(i+1)*time.Second))
		if err := s.CreateRequest(ctx, n, nil); err != nil {
			t.Fatal(err)
		}
		ids = append([]string{n.ID}, ids...)
	}
	var listed []string
	after := ""
	for range 5 {
		page, next, err := s.ListRequests(ctx, a, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			listed = append(listed, p.ID)
		}
		if after = next; after == "" {
			break
		}
	}
	if !equal(listed, ids) {
		t.Fatalf("listed %v, want %v", listed, ids)
	}
}

// testCommitReceipt: an upload bound to a request commits with its
// receipt on the revision it read, or not at all.
func testCommitReceipt(t *testing.T, s Store) {
	ctx := context.Background()
	a := account(t, s, 0)
	r := fileRequest(a, now)
	if err := s.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	fileID := int64(0)
	commit := func(prev int64) (upload.Commit, error) {
		fileID++
		sess := session(a, 10)
		sess.FileID = fileID
		sess.Request = &files.Requested{ID: r.ID, Slot: "Outros", UploaderName: "Maria"}
		if err := s.PutSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetSession(ctx, a, sess.ID); got.Request == nil || *got.Request != *sess.Request {
			t.Fatalf("a session's request: %+v", got.Request)
		}
		c := commitOf(sess, files.File{})
		c.Version.Request = sess.Request
		next := r
		next.Received = []requests.Receipt{{Slot: "Outros", FileUUID: sess.FileUUID, VersionUUID: sess.VersionUUID, Name: sess.FileName,
			Size: 10, ReceivedAt: now.Truncate(time.Second), Status: requests.ReceiptScanning}}
		next.Rev = prev + 1
		c.Request = &requests.Write{Request: next, Prev: prev}
		return c, s.Commit(ctx, c)
	}
	c, err := commit(0)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetVersion(ctx, a, c.File.UUID, c.Version.UUID); v.Request == nil || v.Request.ID != r.ID || v.Request.UploaderName != "Maria" {
		t.Fatalf("a received version's request: %+v", v.Request)
	}
	c2, err := commit(0) // read before the first landed
	if !errors.Is(err, requests.ErrChanged) {
		t.Fatalf("a commit on a revision gone: %v, want requests.ErrChanged", err)
	}
	if _, err := s.GetFile(ctx, a, c2.File.UUID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("the refused commit left its file: %v", err)
	}
	if got, _ := s.GetSession(ctx, a, c2.Session.ID); got.Status != upload.StatusOpen {
		t.Fatalf("the refused commit's session: %s", got.Status)
	}
	if got, _ := s.GetRequest(ctx, a, r.ID); got.Rev != 1 || len(got.Received) != 1 || got.Received[0].Status != requests.ReceiptScanning {
		t.Fatalf("the request after both commits: %+v", got)
	}
}
