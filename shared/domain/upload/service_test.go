package upload_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/adapters/memory"
	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/crc"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/testing/presigned"
)

// env is an upload service on the memory store and bucket (their
// conformance suites hold them to DynamoDB's and S3's rules), with one
// account.
type env struct {
	svc   *upload.Service
	store *memory.Store
	blobs *memory.Blobs
	p     auth.Principal
}

func newEnv(t *testing.T, quota int64) env {
	t.Helper()
	st, bl := &memory.Store{}, &memory.Blobs{}
	srv := httptest.NewServer(bl)
	t.Cleanup(srv.Close)
	bl.Endpoint = srv.URL
	acct := uuid.NewString()
	if err := st.PutAccount(context.Background(), auth.Account{ID: acct, Name: "acme", QuotaBytes: quota}); err != nil {
		t.Fatal(err)
	}
	p := auth.Principal{AccountID: acct, TokenID: uuid.NewString(), Name: "crm", Scopes: auth.AllScopes}
	return env{svc: upload.NewService(st, bl, upload.Limits{}, nil, nil), store: st, blobs: bl, p: p}
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// send PUTs the parts of data the session planned, through their URLs
// (asking for them when the open gave none, with their CRC32C when the
// session verifies one), and returns the parts as completion wants them.
func (e env) send(t *testing.T, sess upload.Session, urls []upload.PartURL, data []byte, only ...int) []upload.Part {
	t.Helper()
	ctx := context.Background()
	body := func(n int) []byte {
		from := int64(n-1) * sess.Plan.PartSize
		return data[from:min(from+sess.Plan.PartSize, int64(len(data)))]
	}
	if len(urls) == 0 {
		in := upload.PartsInput{Checksums: map[string]string{}}
		for n := 1; n <= sess.Plan.PartCount; n++ {
			in.PartNumbers = append(in.PartNumbers, n)
			in.Checksums[strconv.Itoa(n)] = crc.Of("CRC32C", body(n))
		}
		if sess.Checksum == nil {
			in.Checksums = nil
		}
		var err error
		if _, urls, err = e.svc.Parts(ctx, e.p, sess.ID, in); err != nil {
			t.Fatal(err)
		}
	}
	var parts []upload.Part
	for _, u := range urls {
		if len(only) > 0 && u.Number != only[0] {
			continue
		}
		status, etag, err := presigned.Put(ctx, u.Request.URL, u.Request.Headers, body(u.Number))
		if err != nil || status != 200 {
			t.Fatalf("part %d: %d %v", u.Number, status, err)
		}
		parts = append(parts, upload.Part{Number: int32(u.Number), ETag: etag})
	}
	return parts
}

// TestUploadsOnMemory: a multipart upload, a new version, an empty file,
// completion twice, a whole-file checksum verified and refused, abort and
// the quota — the service's rules without a network or an emulator.
func TestUploadsOnMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, 0)
	data := random(12 << 20) // two parts of the default 8 MiB plan
	o, err := e.svc.Open(ctx, e.p, upload.OpenInput{FileName: "report.pdf", FileSize: int64(len(data))})
	if err != nil || o.Session.Plan.PartCount != 2 || len(o.Parts) != 2 {
		t.Fatalf("Open = %+v %v", o, err)
	}
	if _, err := e.svc.Complete(ctx, e.p, o.Session.ID, upload.CompleteInput{}); apperr.KindOf(err) != apperr.KindConflict {
		t.Fatalf("completing before any part: %v, want parts_missing", err)
	}
	parts := e.send(t, o.Session, o.Parts, data)
	f, err := e.svc.Complete(ctx, e.p, o.Session.ID, upload.CompleteInput{Parts: parts})
	if err != nil || f.Size != int64(len(data)) || f.VersionCount != 1 || f.Name != "report.pdf" {
		t.Fatalf("Complete = %+v %v", f, err)
	}
	if again, err := e.svc.Complete(ctx, e.p, o.Session.ID, upload.CompleteInput{Parts: parts}); err != nil || again.VersionUUID != f.VersionUUID {
		t.Fatalf("completing twice = %+v %v, want the same file", again, err)
	}

	v2 := random(100)
	o2, err := e.svc.Open(ctx, e.p, upload.OpenInput{FileName: "report v2.pdf", FileSize: 100, FileUUID: f.UUID,
		Checksum: &upload.Checksum{Algorithm: "CRC32C", Value: crc.Of("CRC32C", v2)}})
	if err != nil {
		t.Fatal(err)
	}
	f2, err := e.svc.Complete(ctx, e.p, o2.Session.ID, upload.CompleteInput{Parts: e.send(t, o2.Session, o2.Parts, v2)})
	if err != nil || f2.UUID != f.UUID || f2.VersionCount != 2 || f2.Size != 100 {
		t.Fatalf("a checksummed new version = %+v %v", f2, err)
	}

	bad, err := e.svc.Open(ctx, e.p, upload.OpenInput{FileName: "bad.bin", FileSize: 100,
		Checksum: &upload.Checksum{Algorithm: "CRC32C", Value: crc.Of("CRC32C", []byte("other bytes"))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Complete(ctx, e.p, bad.Session.ID, upload.CompleteInput{Parts: e.send(t, bad.Session, bad.Parts, v2)}); apperr.KindOf(err) != apperr.KindUnprocessable {
		t.Fatalf("a whole-file checksum that does not match: %v, want checksum_mismatch", err)
	}

	empty, err := e.svc.Open(ctx, e.p, upload.OpenInput{FileName: "empty.txt", FileSize: 0})
	if err != nil {
		t.Fatal(err)
	}
	if fe, err := e.svc.Complete(ctx, e.p, empty.Session.ID, upload.CompleteInput{}); err != nil || fe.Size != 0 {
		t.Fatalf("an empty file = %+v %v", fe, err)
	}

	gone, _ := e.svc.Open(ctx, e.p, upload.OpenInput{FileName: "gone.txt", FileSize: 10})
	e.send(t, gone.Session, gone.Parts, random(10))
	if err := e.svc.Abort(ctx, e.p, gone.Session.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Complete(ctx, e.p, gone.Session.ID, upload.CompleteInput{}); apperr.KindOf(err) != apperr.KindConflict {
		t.Fatalf("completing an aborted session: %v, want session_aborted", err)
	}
	u, _ := e.store.Usage(ctx, e.p.AccountID)
	if u.UsedBytes != int64(len(data))+100 || u.FileCount != 2 || u.VersionCount != 3 {
		t.Fatalf("usage = %+v", u)
	}

	small := newEnv(t, 50)
	if _, err := small.svc.Open(ctx, small.p, upload.OpenInput{FileName: "big.bin", FileSize: 51}); apperr.KindOf(err) != apperr.KindQuota {
		t.Fatalf("opening past the quota: %v, want quota_exceeded", err)
	}
}

// TestResume: a session reports which parts S3 holds, and an upload goes
// on from there.
func TestResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, 0)
	data := random(20 << 20) // three parts
	o, err := e.svc.Open(ctx, e.p, upload.OpenInput{FileName: "big.bin", FileSize: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	e.send(t, o.Session, o.Parts, data, 2) // the client stopped after one part
	st, err := e.svc.Status(ctx, e.p, o.Session.ID)
	if err != nil || len(st.Parts) != 1 || st.Parts[0].Number != 2 || st.Status != upload.StatusOpen {
		t.Fatalf("Status = %+v %v", st, err)
	}
	e.send(t, o.Session, nil, data) // resumed: new URLs for every part
	f, err := e.svc.Complete(ctx, e.p, o.Session.ID, upload.CompleteInput{})
	if err != nil || f.Size != int64(len(data)) {
		t.Fatalf("Complete after resuming = %+v %v", f, err)
	}
}

// failingCommit fails the first Commit after applying nothing: the
// process died between S3's completion and the table's transaction.
type failingCommit struct {
	*memory.Store
	failed bool
}

func (f *failingCommit) Commit(ctx context.Context, c upload.Commit) error {
	if !f.failed {
		f.failed = true
		return errors.New("the process died")
	}
	return f.Store.Commit(ctx, c)
}

// TestCompleteAfterACrash: a completion that died after S3 assembled the
// object is finished by the retry, once, with the object S3 holds.
func TestCompleteAfterACrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, 0)
	crashy := &failingCommit{Store: e.store}
	svc := upload.NewService(crashy, e.blobs, upload.Limits{}, nil, nil)
	data := random(1000)
	o, err := svc.Open(ctx, e.p, upload.OpenInput{FileName: "a.txt", FileSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	parts := e.send(t, o.Session, o.Parts, data)
	if _, err := svc.Complete(ctx, e.p, o.Session.ID, upload.CompleteInput{Parts: parts}); err == nil {
		t.Fatal("the first completion did not fail")
	}
	f, err := svc.Complete(ctx, e.p, o.Session.ID, upload.CompleteInput{Parts: parts})
	if err != nil || f.Size != 1000 {
		t.Fatalf("the retry = %+v %v", f, err)
	}
	v, err := e.store.GetVersion(ctx, e.p.AccountID, f.UUID, f.VersionUUID)
	head, _ := e.blobs.Head(ctx, v.Key)
	if err != nil || v.S3Version != head.VersionID {
		t.Fatalf("the version records %q, S3 holds %q (%v)", v.S3Version, head.VersionID, err)
	}
	if vs, _ := e.blobs.Versions(ctx, v.Key); len(vs) != 1 {
		t.Fatalf("the object has %d versions, want 1", len(vs))
	}
	if u, _ := e.store.Usage(ctx, e.p.AccountID); u.UsedBytes != 1000 || u.FileCount != 1 {
		t.Fatalf("usage = %+v", u)
	}
}
