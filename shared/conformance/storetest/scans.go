package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// testScans: a verdict lands on the version and, while it is the main
// version, on its file, with its record; a verdict read stale (another
// was recorded meanwhile) or for a version no longer main conflicts and
// writes nothing; a promotion carries the promoted version's verdict and
// conflicts when that verdict changed after it was read.
func testScans(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	f1 := put(t, s, acct, "a.pdf", 10, now)
	if f1.Scan.Status != files.ScanPending {
		t.Fatalf("new file's scan = %+v, want pending", f1.Scan)
	}
	v1, err := s.GetVersion(ctx, acct, f1.UUID, f1.VersionUUID)
	if err != nil || v1.Scan.Status != files.ScanPending {
		t.Fatalf("new version's scan = %+v, %v", v1.Scan, err)
	}
	before := len(records(t, s, acct))
	at := now.Truncate(time.Second)
	clean := v1
	clean.Scan = files.Scan{Status: files.ScanClean, ScannedAt: &at}
	if err := s.RecordScan(ctx, clean, files.ScanPending, true, outbox.OfFile(outbox.FileScanned, f1, &clean, "", now)); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetFile(ctx, acct, f1.UUID)
	gv, _ := s.GetVersion(ctx, acct, f1.UUID, f1.VersionUUID)
	if got.Scan.Status != files.ScanClean || gv.Scan.Status != files.ScanClean || gv.Scan.ScannedAt == nil || !gv.Scan.ScannedAt.Equal(at) {
		t.Fatalf("after the verdict: file %+v, version %+v", got.Scan, gv.Scan)
	}
	wrote(t, s, acct, &before, outbox.FileScanned, 1)
	// stale: the version is clean now, not pending
	if err := s.RecordScan(ctx, clean, files.ScanPending, true, outbox.OfFile(outbox.FileScanned, f1, &clean, "", now)); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("a stale verdict: %v, want ErrConflict", err)
	}
	wrote(t, s, acct, &before, outbox.FileScanned, 0)

	// a second version: the first is no longer main
	f2 := addVersion(t, s, got, "b.pdf", 20)
	if f2.Scan.Status != files.ScanPending {
		t.Fatalf("a new version's file scan = %+v, want pending", f2.Scan)
	}
	infected := clean
	infected.Scan = files.Scan{Status: files.ScanInfected, ScannedAt: &at, Threats: []string{"EICAR-Test-File (not a virus)"}}
	if err := s.RecordScan(ctx, infected, files.ScanClean, true, nil); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("a verdict as main for a version no longer main: %v, want ErrConflict", err)
	}
	if err := s.RecordScan(ctx, infected, files.ScanClean, false, nil); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetFile(ctx, acct, f1.UUID)
	gv, _ = s.GetVersion(ctx, acct, f1.UUID, f1.VersionUUID)
	if got.Scan.Status != files.ScanPending || gv.Scan.Status != files.ScanInfected || len(gv.Scan.Threats) != 1 || gv.Scan.Threats[0] != "EICAR-Test-File (not a virus)" {
		t.Fatalf("an older version's verdict: file %+v, version %+v", got.Scan, gv.Scan)
	}

	// promotion takes the version's verdict, if it is still the one read
	back := got
	back.VersionUUID, back.Name, back.Size, back.UpdatedAt, back.Scan = f1.VersionUUID, "a.pdf", 10, now.Add(time.Minute), clean.Scan
	if err := s.PromoteVersion(ctx, back, nil); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("promoting with a stale verdict: %v, want ErrConflict", err)
	}
	back.Scan = gv.Scan
	if err := s.PromoteVersion(ctx, back, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetFile(ctx, acct, f1.UUID); got.Scan.Status != files.ScanInfected || got.VersionUUID != f1.VersionUUID {
		t.Fatalf("after promotion: %+v", got)
	}
	// the listing filters on the main version's status
	put(t, s, acct, "c.pdf", 5, now.Add(time.Second))
	for _, c := range []struct {
		scans []files.ScanStatus
		want  string
	}{{[]files.ScanStatus{files.ScanInfected}, "a.pdf"}, {[]files.ScanStatus{files.ScanPending}, "c.pdf"},
		{[]files.ScanStatus{files.ScanClean, files.ScanOff}, ""}, {[]files.ScanStatus{files.ScanInfected, files.ScanPending}, "c.pdf a.pdf"}} {
		names, _ := page(t, s, acct, catalog.Query{Scans: c.scans}, nil, 10, 100)
		if got := strings.Join(names, " "); got != c.want {
			t.Fatalf("filter[scan]=%v: %q, want %q", c.scans, got, c.want)
		}
	}
	gone := clean
	gone.UUID = "0190c0de-0000-7000-8000-000000000000"
	if err := s.RecordScan(ctx, gone, "", false, nil); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("a verdict for an unknown version: %v, want ErrConflict", err)
	}
}

// testSettings: an account's settings start empty (defaults) and keep what
// is set; an unknown account has none.
func testSettings(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	if st, err := s.Settings(ctx, acct); err != nil || st.ScanPending != "" {
		t.Fatalf("new account's settings = %+v, %v", st, err)
	}
	if err := s.SetSettings(ctx, acct, files.Settings{ScanPending: files.PendingAllow}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Settings(ctx, acct); err != nil || st.ScanPending != files.PendingAllow {
		t.Fatalf("settings = %+v, %v", st, err)
	}
	if u, err := s.Usage(ctx, acct); err != nil || u.FileCount != 0 {
		t.Fatalf("usage after a settings write = %+v, %v", u, err)
	}
	if err := s.SetSettings(ctx, "0190c0de-0000-7000-8000-000000000001", files.Settings{}); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("settings of an unknown account: %v, want ErrNotFound", err)
	}
}

// testScanQueue: a pending version is due for the sweeper's look at its
// Due time, moves when rescheduled (with its count of looks), and leaves
// the queue with its verdict; a recorded version cannot be rescheduled.
func testScanQueue(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	f := put(t, s, acct, "q.pdf", 10, now)
	due := func(at time.Time) []files.Version { return dueScans(t, s, acct, at) }
	if vs := due(now.Add(files.ScanOverdue - time.Second)); len(vs) != 0 {
		t.Fatalf("due before its time: %+v", vs)
	}
	vs := due(now.Add(files.ScanOverdue + time.Second))
	if len(vs) != 1 || vs[0].UUID != f.VersionUUID || vs[0].Key == "" || vs[0].S3Version != "v1" || vs[0].Scan.Looks != 0 {
		t.Fatalf("due at its time: %+v", vs)
	}
	v := vs[0]
	v.Scan.Looks, v.Scan.Due = 1, now.Add(time.Hour)
	if err := s.RescheduleScan(ctx, v); err != nil {
		t.Fatal(err)
	}
	if vs := due(now.Add(30 * time.Minute)); len(vs) != 0 {
		t.Fatalf("due before its new time: %+v", vs)
	}
	if vs := due(now.Add(time.Hour + time.Second)); len(vs) != 1 || vs[0].Scan.Looks != 1 || !vs[0].Scan.Due.Equal(now.Add(time.Hour)) {
		t.Fatalf("rescheduled: %+v", vs)
	}
	at := now.Add(time.Hour).Truncate(time.Second)
	v.Scan = files.Scan{Status: files.ScanFailed, ScannedAt: &at}
	if err := s.RecordScan(ctx, v, files.ScanPending, true, nil); err != nil {
		t.Fatal(err)
	}
	if vs := due(now.Add(24 * time.Hour)); len(vs) != 0 {
		t.Fatalf("a recorded version is still due: %+v", vs)
	}
	v.Scan = files.Scan{Status: files.ScanPending, Due: now, Looks: 2}
	if err := s.RescheduleScan(ctx, v); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("rescheduling a recorded version: %v, want ErrConflict", err)
	}
}

// testQuarantine: an infected version waits in the sweeper's queue until
// its quarantine ends; PurgeInfected marks it purged (it leaves the
// queue), takes its size off its file's total and the account's used
// bytes — or trashed bytes for a trashed file — and mirrors the scan on
// the file while it is main; it conflicts, writing nothing, once purged or
// when the file was trashed since it was read.
func testQuarantine(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	a := put(t, s, acct, "a.pdf", 10, now)
	b := put(t, s, acct, "b.pdf", 7, now)
	at := now.Add(time.Minute).Truncate(time.Second)
	infect := func(f files.File) files.Version {
		t.Helper()
		v, err := s.GetVersion(ctx, acct, f.UUID, f.VersionUUID)
		if err != nil {
			t.Fatal(err)
		}
		v.Scan = files.Infect(at, []string{"EICAR-Test-File (not a virus)"})
		if err := s.RecordScan(ctx, v, files.ScanPending, true, nil); err != nil {
			t.Fatal(err)
		}
		return v
	}
	va, vb := infect(a), infect(b)
	mine := func(at time.Time) []files.Version { return dueScans(t, s, acct, at) }
	if vs := mine(at.Add(files.Quarantine - time.Second)); len(vs) != 0 {
		t.Fatalf("due inside the quarantine: %+v", vs)
	}
	vs := mine(at.Add(files.Quarantine + time.Second))
	if len(vs) != 2 || vs[0].Scan.Status != files.ScanInfected || vs[0].Scan.PurgeAt == nil || !vs[0].Scan.PurgeAt.Equal(at.Add(files.Quarantine)) {
		t.Fatalf("due after the quarantine: %+v", vs)
	}
	trashed, err := s.GetFile(ctx, acct, b.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.TrashFile(ctx, trashed, now, now.Add(catalog.TrashWindow), "crm", nil); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Usage(ctx, acct)
	purgedAt := at.Add(files.Quarantine + time.Second)
	purge := func(v files.Version, f files.File) error {
		v.Scan.PurgedAt = &purgedAt
		return s.PurgeInfected(ctx, v, f, outbox.OfFile(outbox.FileVersionPurged, f, &v, "sweeper", purgedAt))
	}
	fa, _ := s.GetFile(ctx, acct, a.UUID)
	if err := purge(vb, b); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("purging with the file read before it was trashed: %v, want ErrConflict", err)
	}
	fb, _ := s.GetFile(ctx, acct, b.UUID)
	if err := purge(va, fa); err != nil {
		t.Fatal(err)
	}
	if err := purge(vb, fb); err != nil {
		t.Fatal(err)
	}
	if err := purge(va, fa); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("purging twice: %v, want ErrConflict", err)
	}
	after, _ := s.Usage(ctx, acct)
	if after.UsedBytes != before.UsedBytes-10 || after.TrashedBytes != before.TrashedBytes-7 || after.VersionCount != before.VersionCount {
		t.Fatalf("usage %+v after the purges, %+v before", after, before)
	}
	if vs := mine(at.Add(365 * 24 * time.Hour)); len(vs) != 0 {
		t.Fatalf("purged versions still due: %+v", vs)
	}
	got, _ := s.GetFile(ctx, acct, a.UUID)
	v, _ := s.GetVersion(ctx, acct, a.UUID, a.VersionUUID)
	if got.TotalBytes != 0 || got.Scan.PurgedAt == nil || !got.Scan.PurgedAt.Equal(purgedAt) || v.Scan.PurgedAt == nil ||
		v.Scan.PurgeAt == nil || v.Scan.Status != files.ScanInfected || len(v.Scan.Threats) != 1 {
		t.Fatalf("after the purge: file total %d scan %+v, version scan %+v", got.TotalBytes, got.Scan, v.Scan)
	}
}

// dueScans is the sweeper's queue of scans due at at, of one account.
func dueScans(t *testing.T, s Store, acct string, at time.Time) []files.Version {
	t.Helper()
	vs, err := s.DueScans(context.Background(), at, 10)
	if err != nil {
		t.Fatal(err)
	}
	var mine []files.Version
	for _, v := range vs {
		if v.AccountID == acct {
			mine = append(mine, v)
		}
	}
	return mine
}
