package requests_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/adapters/memory"
	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/requests"
	"github.com/anexo/anexo/shared/domain/scanning"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/testing/presigned"
)

func TestAccepts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		accept   []string
		name, mt string
		want     bool
	}{
		{nil, "any.exe", "application/octet-stream", true},
		{[]string{".pdf"}, "RG.PDF", "application/pdf", true},
		{[]string{".pdf"}, "rg.pdf.exe", "application/octet-stream", false},
		{[]string{"image/*"}, "foto.heic", "image/heic", true},
		{[]string{"image/*"}, "foto.jpg", "imagex/jpeg", false},
		{[]string{"application/pdf", ".docx"}, "contrato.docx", "application/octet-stream", true},
		{[]string{"application/pdf"}, "contrato", "application/pdf", true},
	} {
		if got := requests.Accepts(tc.accept, tc.name, tc.mt); got != tc.want {
			t.Errorf("Accepts(%v, %q, %q) = %v", tc.accept, tc.name, tc.mt, got)
		}
	}
	var errs apperr.Fields
	got := requests.ValidateAccept("accept", []string{" .PDF", "image/*", "*/*", "pdf", ".p-f", "text/plain; q=1", ".pdf"}, &errs)
	if strings.Join(got, ",") != ".pdf,image/*" || len(errs) != 4 || errs[0].Field != "accept[2]" || errs[3].Field != "accept[5]" {
		t.Fatalf("ValidateAccept = %v, %v", got, errs)
	}
}

func TestPasscodeAndLink(t *testing.T) {
	t.Parallel()
	h := requests.HashPasscode("segredo1")
	if h == requests.HashPasscode("segredo1") || !strings.HasPrefix(h, "pbkdf2-sha256$") {
		t.Fatalf("a passcode's hash is salted: %s", h)
	}
	if !requests.CheckPasscode(h, "segredo1") || requests.CheckPasscode(h, "segredo2") || requests.CheckPasscode("garbage", "segredo1") {
		t.Fatal("CheckPasscode")
	}
	now := time.Now()
	r := requests.Request{Failures: requests.MaxFailures, FailedSince: now.Add(-time.Minute)}
	if until := r.Lockout(now); !until.Equal(r.FailedSince.Add(requests.FailureWindow)) {
		t.Fatalf("lockout until %v", until)
	}
	if until := r.Lockout(now.Add(requests.FailureWindow)); !until.IsZero() {
		t.Fatalf("the lockout outlived its window: %v", until)
	}
	if requests.WellFormedLink("anr_short") || !requests.WellFormedLink("anr_"+strings.Repeat("A", 43)) || requests.WellFormedLink("anx_"+strings.Repeat("A", 43)) {
		t.Fatal("WellFormedLink")
	}
}

// env is a request service and an upload service on the memory drivers.
type env struct {
	reqs  *requests.Service
	up    *upload.Service
	store *memory.Store
	blobs *memory.Blobs
	admin auth.Principal
}

func newEnv(t *testing.T, scanning bool) env {
	t.Helper()
	st, bl := &memory.Store{}, &memory.Blobs{}
	srv := httptest.NewServer(bl)
	t.Cleanup(srv.Close)
	bl.Endpoint = srv.URL
	acct := uuid.NewString()
	if err := st.PutAccount(context.Background(), auth.Account{ID: acct, Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	ents := &entities.Service{Store: st}
	up := upload.NewService(st, bl, upload.Limits{}, nil, nil)
	up.Scanning = scanning
	return env{reqs: &requests.Service{Store: st, Entities: ents, Scanning: scanning}, up: up, store: st, blobs: bl,
		admin: auth.Principal{AccountID: acct, TokenID: "t", Name: "crm", Scopes: auth.AllScopes}}
}

// sendAll opens an upload per file through the request's link, puts their
// bytes, then completes them all at once.
func (e env) sendAll(t *testing.T, r requests.Request, slot string, n int) ([]upload.Session, []error) {
	t.Helper()
	ctx := context.Background()
	var sessions []upload.Session
	var who []auth.Principal
	for i := range n {
		p, bound, err := e.reqs.Admit(ctx, r, requests.Upload{Slot: slot, Name: "doc.pdf", Size: 5, MimeType: "application/pdf",
			Uploader: requests.Uploader{Name: "Maria"}})
		if err != nil {
			t.Fatalf("admitting upload %d: %v", i, err)
		}
		out, err := e.up.Open(ctx, p, upload.OpenInput{FileName: "doc.pdf", FileSize: 5, ContentType: "application/pdf", Request: &bound})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range out.Parts {
			if st, _, err := presigned.Put(ctx, u.Request.URL, u.Request.Headers, []byte("%PDF!")); err != nil || st != 200 {
				t.Fatalf("part: %d %v", st, err)
			}
		}
		sessions, who = append(sessions, out.Session), append(who, p)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range sessions {
		wg.Go(func() { _, errs[i] = e.up.Complete(ctx, who[i], s.ID, upload.CompleteInput{}) })
	}
	wg.Wait()
	return sessions, errs
}

// TestConcurrentReceipts: uploads admitted at once into a request with
// room for fewer complete concurrently: as many land as it takes (each
// on the revision it read, the others retried), the rest are refused and
// leave nothing behind — no file, no object, no usage.
func TestConcurrentReceipts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	r, _, err := e.reqs.Create(ctx, e.admin, requests.New{EntityType: "deal", EntityID: uuid.NewString(), Title: "Notas fiscais", MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	landed, refused := 0, 0
	sessions, errs := e.sendAll(t, r, "", 6)
	for i, err := range errs {
		vs, _ := e.blobs.Versions(ctx, sessions[i].Key)
		switch {
		case err == nil:
			landed++
		case apperr.KindOf(err) == apperr.KindConflict && strings.Contains(err.Error(), "request_full") && len(vs) == 0:
			refused++
		default:
			t.Fatalf("a completion: %v", err)
		}
	}
	if landed != 3 || refused != 3 {
		t.Fatalf("%d landed and %d refused, want 3 and 3", landed, refused)
	}
	got, _ := e.store.GetRequest(ctx, e.admin.AccountID, r.ID)
	u, _ := e.store.Usage(ctx, e.admin.AccountID)
	if len(got.Received) != 3 || got.FulfilledAt.IsZero() || u.FileCount != 3 || u.UsedBytes != 15 {
		t.Fatalf("after the race: %d receipts, fulfilled %v, usage %+v", len(got.Received), got.FulfilledAt, u)
	}
	recs, _, err := e.store.Records(ctx, outbox.Scan{AccountID: e.admin.AccountID, Until: time.Now().Add(time.Hour), Limit: 100, Budget: 1000})
	if err != nil {
		t.Fatal(err)
	}
	count := map[outbox.Type]int{}
	for _, rec := range recs {
		for _, ev := range rec.Events {
			count[ev.Type]++
		}
	}
	if count[outbox.FileRequestFileReceived] != 3 || count[outbox.FileRequestFulfilled] != 1 || count[outbox.FileAttached] != 3 {
		t.Fatalf("events: %v", count)
	}
}

// receivedOne makes a request with one required slot and sends it a file
// (the deployment scans): the request, the receipt waiting for its
// verdict, and the version.
func (e env) receivedOne(t *testing.T) (requests.Request, requests.Receipt, files.Version) {
	t.Helper()
	ctx := context.Background()
	r, _, err := e.reqs.Create(ctx, e.admin, requests.New{EntityType: "lead", EntityID: uuid.NewString(), Title: "RG",
		Slots: []requests.Slot{{Name: "RG", Required: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := e.sendAll(t, r, "RG", 1); errs[0] != nil {
		t.Fatal(errs[0])
	}
	got, _ := e.store.GetRequest(ctx, e.admin.AccountID, r.ID)
	rc := got.Received[0]
	if rc.Status != requests.ReceiptScanning || !got.FulfilledAt.IsZero() {
		t.Fatalf("before the verdict: %+v", got)
	}
	v, err := e.store.GetVersion(ctx, e.admin.AccountID, rc.FileUUID, rc.VersionUUID)
	if err != nil {
		t.Fatal(err)
	}
	return r, rc, v
}

// TestSettleOnce: a verdict delivered twice (or after a crash between its
// record and the receipt's) attaches the file once.
func TestSettleOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	ctx := context.Background()
	r, rc, v := e.receivedOne(t)
	if err := e.reqs.Settle(ctx, v); err != nil { // still pending: nothing
		t.Fatal(err)
	}
	v.Scan = files.Scan{Status: files.ScanClean}
	for range 2 {
		if err := e.reqs.Settle(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := e.store.GetRequest(ctx, e.admin.AccountID, r.ID)
	us, _ := e.store.Usages(ctx, e.admin.AccountID, rc.FileUUID)
	if got.Received[0].Status != requests.ReceiptAttached || got.FulfilledAt.IsZero() || got.Rev != 3 || len(us) != 1 { // the open, the receipt, the verdict
		t.Fatalf("after two deliveries of the verdict: %+v, %d usages", got, len(us))
	}
}

// TestHealLostSettle: a verdict recorded whose settling was lost (the
// scan function ended between the two, its retries spent) is settled by
// the next read of the request once the receipt has waited a while.
func TestHealLostSettle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	now := time.Now()
	e.reqs.Clock = func() time.Time { return now }
	ctx := context.Background()
	r, rc, v := e.receivedOne(t)
	// the verdict recorded as the scan function does, with no settling
	scans := &scanning.Service{Store: e.store, Clock: func() time.Time { return now }}
	if out, err := scans.Record(ctx, scanning.Verdict{Key: v.Key, S3Version: v.S3Version, Status: files.ScanClean, At: now}); err != nil || out != scanning.Recorded {
		t.Fatalf("record: %v %v", out, err)
	}
	if got, _ := e.reqs.Get(ctx, e.admin, r.ID); got.Received[0].Status != requests.ReceiptScanning {
		t.Fatalf("healed before the receipt waited: %v", got.Received[0].Status)
	}
	now = now.Add(requests.StaleScan)
	got, err := e.reqs.Get(ctx, e.admin, r.ID)
	us, _ := e.store.Usages(ctx, e.admin.AccountID, rc.FileUUID)
	if err != nil || got.Received[0].Status != requests.ReceiptAttached || got.FulfilledAt.IsZero() || len(us) != 1 {
		t.Fatalf("after a read a minute later: %+v %v, %d usages", got.Received, err, len(us))
	}
}

// BenchmarkCheckPasscode is what a passcode costs each public call of a
// request that has one (PBKDF2-SHA256, 60,000 iterations).
func BenchmarkCheckPasscode(b *testing.B) {
	h := requests.HashPasscode("segredo-1")
	for b.Loop() {
		if !requests.CheckPasscode(h, "segredo-1") {
			b.Fatal("refused")
		}
	}
}
