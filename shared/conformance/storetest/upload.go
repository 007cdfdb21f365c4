package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/upload"
)

func testAccounts(t *testing.T, s Store) {
	ctx := context.Background()
	id := account(t, s, 1000)
	got, err := s.GetAccount(ctx, id)
	if err != nil || got.Name != "acme" || got.QuotaBytes != 1000 || !got.CreatedAt.Equal(now) {
		t.Fatalf("GetAccount = %+v %v", got, err)
	}
	if err := s.PutAccount(ctx, got); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("second PutAccount: %v, want ErrConflict", err)
	}
	if _, err := s.GetAccount(ctx, uuid.NewString()); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("missing account: %v", err)
	}
	tok := auth.Token{ID: uuid.NewString(), AccountID: id, Name: "crm", Hash: auth.HashToken("anx_secret"),
		Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeDelete}, AllowedDomain: "https://*.example.com", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	gt, err := s.GetTokenByHash(ctx, tok.Hash)
	if err != nil || gt.ID != tok.ID || gt.AccountID != id || len(gt.Scopes) != 2 || gt.Scopes[1] != auth.ScopeDelete ||
		gt.AllowedDomain != "https://*.example.com" || !gt.ExpiresAt.Equal(tok.ExpiresAt) || gt.Hash != tok.Hash {
		t.Fatalf("GetTokenByHash = %+v %v", gt, err)
	}
	if _, err := s.GetTokenByHash(ctx, auth.HashToken("anx_other")); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
}

// testTokenLifecycle: a token is listed in its account, rotation keeps the
// replaced secret until its grace ends (and drops what it is told to),
// revocation ends every secret at once, and touches record the latest use.
func testTokenLifecycle(t *testing.T, s Store) {
	ctx := context.Background()
	id := account(t, s, 0)
	tok := auth.Token{ID: uuid.NewString(), AccountID: id, Name: "crm", Hash: auth.HashToken("anx_one"),
		Scopes: []auth.Scope{auth.ScopeRead}, CreatedAt: now, CreatedBy: "admin"}
	if err := s.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.PutToken(ctx, tok); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("a second PutToken: %v", err)
	}
	as, err := s.ListAccounts(ctx)
	if err != nil || len(as) != 1 || as[0].ID != id || as[0].Name != "acme" {
		t.Fatalf("ListAccounts = %+v %v", as, err)
	}
	if err := s.TouchToken(ctx, tok.Hash, now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchToken(ctx, tok.Hash, now.Add(2*time.Minute), now); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("a touch within the window: %v, want ErrConflict", err)
	}
	got, err := s.GetToken(ctx, id, tok.ID)
	ts0 := []auth.Token{got}
	if err == nil {
		err = s.LastUsed(ctx, ts0)
	}
	if err != nil || got.Hash != tok.Hash || got.CreatedBy != "admin" || !ts0[0].LastUsedAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("GetToken = %+v %v", got, err)
	}
	// rotate with grace: both secrets authenticate, the old one until its grace ends
	next := got
	next.Hash, next.RotatedAt = auth.HashToken("anx_two"), now.Add(time.Hour)
	next.Previous = []auth.Secret{{Hash: tok.Hash, Until: now.Add(25 * time.Hour)}}
	if err := s.RotateToken(ctx, got, next, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RotateToken(ctx, got, next, nil); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("rotating from a replaced secret: %v, want ErrConflict", err)
	}
	old, err := s.GetTokenByHash(ctx, tok.Hash)
	if err != nil || !old.ExpiresAt.Equal(now.Add(25*time.Hour)) || old.ID != tok.ID {
		t.Fatalf("the replaced secret: %+v %v", old, err)
	}
	if cur, err := s.GetTokenByHash(ctx, next.Hash); err != nil || !cur.ExpiresAt.IsZero() || cur.Name != "crm" {
		t.Fatalf("the new secret: %+v %v", cur, err)
	}
	ts, err := s.ListTokens(ctx, id)
	if err == nil {
		err = s.LastUsed(ctx, ts)
	}
	if err != nil || len(ts) != 1 || ts[0].Hash != next.Hash || len(ts[0].Previous) != 1 ||
		!ts[0].Previous[0].Until.Equal(now.Add(25*time.Hour)) || !ts[0].Previous[0].LastUsedAt.Equal(now.Add(time.Minute)) ||
		!ts[0].LastUsedAt.Equal(now.Add(time.Minute)) || !ts[0].RotatedAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("ListTokens = %+v %v", ts, err)
	}
	// rotate again, dropping the first secret
	third := ts[0]
	third.Hash, third.Previous = auth.HashToken("anx_three"), nil
	if err := s.RotateToken(ctx, ts[0], third, []string{tok.Hash, next.Hash}); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{tok.Hash, next.Hash} {
		if _, err := s.GetTokenByHash(ctx, h); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("a dropped secret: %v", err)
		}
	}
	// revoke: every secret ends, the token stays listed as revoked
	third.Previous = []auth.Secret{{Hash: auth.HashToken("anx_gone"), Until: now.Add(time.Hour)}} // absent: deleting it is harmless
	if err := s.RevokeToken(ctx, third, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetTokenByHash(ctx, third.Hash); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("a revoked secret: %v", err)
	}
	if err := s.RevokeToken(ctx, third, now.Add(3*time.Hour)); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("revoking twice: %v, want ErrConflict", err)
	}
	got, err = s.GetToken(ctx, id, tok.ID)
	if err != nil || !got.RevokedAt.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("the revoked token: %+v %v", got, err)
	}
	if _, err := s.GetToken(ctx, account(t, s, 0), tok.ID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("another account's token: %v", err)
	}
	if err := s.TouchToken(ctx, third.Hash, now.Add(4*time.Hour), now.Add(3*time.Hour)); !errors.Is(err, apperr.ErrConflict) && !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("touching a revoked secret: %v", err)
	}
}

func testFileIDs(t *testing.T, s Store) {
	ctx := context.Background()
	a, b := account(t, s, 0), account(t, s, 0)
	for want := int64(1); want <= 3; want++ {
		id, _, err := s.ReserveFileID(ctx, a)
		if err != nil || id != want {
			t.Fatalf("ReserveFileID = %d %v, want %d", id, err, want)
		}
	}
	if id, _, _ := s.ReserveFileID(ctx, b); id != 1 {
		t.Fatalf("ids are per account: got %d", id)
	}
	if _, _, err := s.ReserveFileID(ctx, uuid.NewString()); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
}

func session(acct string, size int64) upload.Session {
	return upload.Session{AccountID: acct, ID: uuid.NewString(), FileUUID: uuid.NewString(), VersionUUID: uuid.NewString(),
		NewFile: true, FileID: 1, FileName: "Relatório final.pdf", MimeType: "application/pdf",
		Plan: upload.Plan{Size: size, PartSize: 8 << 20, PartCount: 1}, Checksum: &upload.Checksum{Algorithm: "CRC32", Value: "AAAAAA=="},
		Key: "k", UploadID: "u", Status: upload.StatusOpen, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
		CreatedBy: "crm", TokenID: "t"}
}

func testSessions(t *testing.T, s Store) {
	ctx := context.Background()
	a := account(t, s, 0)
	in := session(a, 42)
	if err := s.PutSession(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSession(ctx, a, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.FileName != in.FileName || got.Plan != in.Plan || *got.Checksum != *in.Checksum || !got.ExpiresAt.Equal(in.ExpiresAt) ||
		got.Status != upload.StatusOpen || got.FileUUID != in.FileUUID || got.UploadID != "u" || !got.NewFile || got.FileID != 1 {
		t.Fatalf("GetSession = %+v", got)
	}
	if _, err := s.GetSession(ctx, account(t, s, 0), in.ID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("another account's session: %v, want ErrNotFound", err)
	}
	if err := s.SetSessionStatus(ctx, a, in.ID, upload.StatusOpen, upload.StatusAborted, now); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSessionStatus(ctx, a, in.ID, upload.StatusOpen, upload.StatusAborted, now); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("second transition: %v, want ErrConflict", err)
	}
	if got, _ := s.GetSession(ctx, a, in.ID); got.Status != upload.StatusAborted {
		t.Fatalf("status = %s", got.Status)
	}
}

func commitOf(sess upload.Session, prev files.File) upload.Commit {
	f := prev
	if sess.NewFile {
		f = files.File{AccountID: sess.AccountID, UUID: sess.FileUUID, ID: sess.FileID, CreatedAt: now, CreatedBy: "crm", Source: "api"}
	}
	f.VersionUUID, f.Name, f.Size, f.UpdatedAt, f.MimeType = sess.VersionUUID, sess.FileName, sess.Plan.Size, now, sess.MimeType
	f.VersionCount++
	f.Scan, f.Previews = files.NewScan(true, now), nil
	return upload.Commit{Session: sess, File: f, NewFile: sess.NewFile, Version: files.Version{AccountID: sess.AccountID,
		FileUUID: sess.FileUUID, UUID: sess.VersionUUID, Size: sess.Plan.Size, Key: sess.Key, S3Version: "v1", CreatedAt: now, Name: sess.FileName,
		Scan: f.Scan}}
}

func testCommitNew(t *testing.T, s Store) {
	ctx := context.Background()
	a := account(t, s, 0)
	sess := session(a, 100)
	_ = s.PutSession(ctx, sess)
	c := commitOf(sess, files.File{})
	if err := s.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, c); !errors.Is(err, upload.ErrSessionNotOpen) {
		t.Fatalf("second commit: %v, want ErrSessionNotOpen", err)
	}
	f, err := s.GetFile(ctx, a, sess.FileUUID)
	if err != nil || f.Size != 100 || f.VersionUUID != sess.VersionUUID || f.Name != sess.FileName || f.ID != 1 || f.VersionCount != 1 {
		t.Fatalf("GetFile = %+v %v", f, err)
	}
	v, err := s.GetVersion(ctx, a, sess.FileUUID, sess.VersionUUID)
	if err != nil || v.S3Version != "v1" || v.Size != 100 {
		t.Fatalf("GetVersion = %+v %v", v, err)
	}
	u, _ := s.Usage(ctx, a)
	if u.UsedBytes != 100 || u.FileCount != 1 || u.VersionCount != 1 {
		t.Fatalf("usage after one commit and one rejected retry = %+v", u)
	}
	if got, _ := s.GetSession(ctx, a, sess.ID); got.Status != upload.StatusCompleted {
		t.Fatalf("session status = %s", got.Status)
	}
	f2, u2, err := s.FileWithUsage(ctx, a, sess.FileUUID)
	if err != nil || f2.UUID != f.UUID || u2 != u {
		t.Fatalf("FileWithUsage = %+v %+v %v", f2, u2, err)
	}
	if _, _, err := s.FileWithUsage(ctx, a, uuid.NewString()); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("FileWithUsage of a missing file: %v", err)
	}
}

func testCommitVersion(t *testing.T, s Store) {
	ctx := context.Background()
	a := account(t, s, 0)
	first := session(a, 100)
	_ = s.PutSession(ctx, first)
	if err := s.Commit(ctx, commitOf(first, files.File{})); err != nil {
		t.Fatal(err)
	}
	prev, _ := s.GetFile(ctx, a, first.FileUUID)
	second := session(a, 30)
	second.NewFile, second.FileUUID, second.FileName = false, first.FileUUID, "v2.pdf"
	_ = s.PutSession(ctx, second)
	if err := s.Commit(ctx, commitOf(second, prev)); err != nil {
		t.Fatal(err)
	}
	f, _ := s.GetFile(ctx, a, first.FileUUID)
	if f.VersionUUID != second.VersionUUID || f.Size != 30 || f.Name != "v2.pdf" || f.VersionCount != 2 || f.ID != prev.ID || !f.CreatedAt.Equal(prev.CreatedAt) {
		t.Fatalf("file after new version = %+v", f)
	}
	u, _ := s.Usage(ctx, a)
	if u.UsedBytes != 130 || u.FileCount != 1 || u.VersionCount != 2 {
		t.Fatalf("usage = %+v", u)
	}
	orphan := session(a, 5)
	orphan.NewFile, orphan.FileUUID = false, uuid.NewString()
	_ = s.PutSession(ctx, orphan)
	if err := s.Commit(ctx, commitOf(orphan, files.File{UUID: orphan.FileUUID, AccountID: a})); !errors.Is(err, upload.ErrFileGone) {
		t.Fatalf("version of a missing file: %v, want ErrFileGone", err)
	}
	if got, _ := s.GetSession(ctx, a, orphan.ID); got.Status != upload.StatusOpen {
		t.Fatalf("a failed commit changed the session: %s", got.Status)
	}
}

func testQuota(t *testing.T, s Store) {
	ctx := context.Background()
	a := account(t, s, 150)
	ok, big := session(a, 100), session(a, 51)
	_ = s.PutSession(ctx, ok)
	_ = s.PutSession(ctx, big)
	if err := s.Commit(ctx, commitOf(ok, files.File{})); err != nil {
		t.Fatal(err)
	}
	big.FileID = 2
	if err := s.Commit(ctx, commitOf(big, files.File{})); !errors.Is(err, apperr.ErrQuota) {
		t.Fatalf("over quota: %v, want ErrQuota", err)
	}
	if _, err := s.GetFile(ctx, a, big.FileUUID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("a rejected commit left a file: %v", err)
	}
	u, _ := s.Usage(ctx, a)
	if u.UsedBytes != 100 || u.FileCount != 1 || u.QuotaBytes != 150 {
		t.Fatalf("usage = %+v", u)
	}
}
