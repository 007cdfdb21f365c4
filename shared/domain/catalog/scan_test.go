package catalog_test

import (
	"context"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/scanning"
)

// racingStore makes a new version of the file main just before the first
// verdict is written: a commit racing the verdict.
type racingStore struct {
	scanning.Store
	raced bool
	race  func()
}

func (r *racingStore) RecordScan(ctx context.Context, v files.Version, prev files.ScanStatus, main bool, rec *outbox.Record) error {
	if !r.raced {
		r.raced = true
		r.race()
	}
	return r.Store.RecordScan(ctx, v, prev, main, rec)
}

// TestScanVerdicts: downloads follow the verdict and the account's pending
// policy; verdicts are recorded once (redeliveries change nothing), with
// file.scanned and, for infected, file.infected; infected sticks and can
// be neither downloaded nor made main; verdicts for unknown, superseded or
// foreign objects are ignored; a verdict racing a new main version lands
// on the version only.
func TestScanVerdicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFake(t)
	svc := &scanning.Service{Store: f.store, Clock: func() time.Time { return f.now }}
	f.scan = files.NewScan(true, f.now)
	a := f.file(t, "a.txt", "text/plain", []byte("alpha"))
	b := f.file(t, "b.txt", "text/plain", []byte("bravo"))
	code := func(err error) string {
		if e, ok := apperr.As(err); ok {
			return e.Code
		}
		return ""
	}
	download := func(uuid string) error {
		t.Helper()
		_, _, err := f.c.DownloadURL(ctx, f.p, uuid, "", false)
		return err
	}
	if err := download(a.UUID); code(err) != "scan_pending" || apperr.KindOf(err) != apperr.KindConflict {
		t.Fatalf("a pending file under block: %v, want 409 scan_pending", err)
	}
	allow, block := files.PendingAllow, files.PendingBlock
	if st, err := f.c.UpdateSettings(ctx, f.p, catalog.SettingsPatch{ScanPending: &allow}); err != nil || st.ScanPending != allow {
		t.Fatalf("UpdateSettings = %+v, %v", st, err)
	}
	if err := download(a.UUID); err != nil {
		t.Fatalf("a pending file under allow: %v", err)
	}
	bad := files.PendingPolicy("maybe")
	if _, err := f.c.UpdateSettings(ctx, f.p, catalog.SettingsPatch{ScanPending: &bad}); apperr.KindOf(err) != apperr.KindInvalid {
		t.Fatalf("an unknown policy: %v", err)
	}
	if _, err := f.c.UpdateSettings(ctx, f.p, catalog.SettingsPatch{ScanPending: &block}); err != nil {
		t.Fatal(err)
	}

	key := func(x files.File) string { return files.ObjectKey(x.AccountID, x.UUID, x.VersionUUID) }
	record := func(v scanning.Verdict, want scanning.Outcome) {
		t.Helper()
		if got, err := svc.Record(ctx, v); err != nil || got != want {
			t.Fatalf("Record(%+v) = %s, %v; want %s", v, got, err, want)
		}
	}
	before := len(f.records(t))
	record(scanning.Verdict{Key: key(a), Status: files.ScanClean, At: f.now}, scanning.Recorded)
	record(scanning.Verdict{Key: key(a), Status: files.ScanClean, At: f.now}, scanning.Unchanged)
	if err := download(a.UUID); err != nil {
		t.Fatalf("a clean file: %v", err)
	}
	if got, _ := f.c.Get(ctx, f.p, a.UUID); got.Scan.Status != files.ScanClean || got.Scan.ScannedAt == nil {
		t.Fatalf("a clean file's scan = %+v", got.Scan)
	}
	eicar := []string{"EICAR-Test-File (not a virus)"}
	record(scanning.Verdict{Key: key(b), Status: files.ScanInfected, Threats: eicar, At: f.now}, scanning.Recorded)
	record(scanning.Verdict{Key: key(b), Status: files.ScanClean, At: f.now}, scanning.Sticky)
	if err := download(b.UUID); code(err) != "file_infected" || apperr.KindOf(err) != apperr.KindForbidden {
		t.Fatalf("an infected file: %v, want 403 file_infected", err)
	}
	recs := f.records(t)[before:]
	var types []outbox.Type
	for _, r := range recs {
		types = append(types, r.Types()...)
	}
	if len(recs) != 2 || len(types) != 3 || types[0] != outbox.FileScanned || types[1] != outbox.FileScanned || types[2] != outbox.FileInfected {
		t.Fatalf("records = %d with %v; want file.scanned, then file.scanned and file.infected", len(recs), types)
	}

	// failed: surfaced, refused under block, served under allow
	c := f.file(t, "c.txt", "text/plain", []byte("charlie"))
	record(scanning.Verdict{Key: key(c), Status: files.ScanFailed, At: f.now}, scanning.Recorded)
	if err := download(c.UUID); code(err) != "scan_failed" {
		t.Fatalf("a failed scan under block: %v, want scan_failed", err)
	}
	// a verdict for another object version than the one served, for a
	// version nobody committed, for an object that is no version's
	record(scanning.Verdict{Key: key(c), S3Version: "another", Status: files.ScanClean}, scanning.Superseded)
	record(scanning.Verdict{Key: f.p.AccountID + "/" + c.UUID + "/0190c0de-0000-7000-8000-000000000000", Status: files.ScanClean}, scanning.Unknown)
	record(scanning.Verdict{Key: "relay/" + c.UUID, Status: files.ScanClean}, scanning.Foreign)
	if _, err := svc.Record(ctx, scanning.Verdict{Key: key(c), Status: files.ScanPending}); apperr.KindOf(err) != apperr.KindInvalid {
		t.Fatalf("pending as a verdict: %v", err)
	}

	// a new version of c becomes main while c's first verdict is written
	d := f.file(t, "d.txt", "text/plain", []byte("delta"))
	race := &racingStore{Store: f.store, race: func() {
		nf := d
		nf.VersionUUID = "0190c0de-0000-7000-8000-00000000000d"
		if err := f.store.AddVersion(nf, files.Version{AccountID: d.AccountID, FileUUID: d.UUID, UUID: nf.VersionUUID,
			Name: "d.txt", Key: key(nf), S3Version: "v2", Scan: files.NewScan(true, f.now)}); err != nil {
			t.Fatal(err)
		}
	}}
	racing := &scanning.Service{Store: race, Clock: svc.Clock}
	if got, err := racing.Record(ctx, scanning.Verdict{Key: key(d), Status: files.ScanInfected, Threats: eicar}); err != nil || got != scanning.Recorded {
		t.Fatalf("a verdict racing a commit = %s, %v", got, err)
	}
	if got, _ := f.c.Get(ctx, f.p, d.UUID); got.Scan.Status != files.ScanPending {
		t.Fatalf("the new main version took the old one's verdict: %+v", got.Scan)
	}
	if _, err := f.c.Promote(ctx, f.p, d.UUID, d.VersionUUID); code(err) != "file_infected" {
		t.Fatalf("promoting an infected version: %v, want file_infected", err)
	}
}

// TestOverdueScans: a version whose verdict never comes is looked at by
// the sweep at 15 minutes, then 30, 60 and 120 minutes later, and then
// recorded failed (with its file.scanned) — never left pending, never
// served as clean under block; a version that got its verdict is not
// looked at.
func TestOverdueScans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFake(t)
	svc := &scanning.Service{Store: f.store, Tags: f.blobs, Clock: func() time.Time { return f.now }}
	f.scan = files.NewScan(true, f.now)
	lost := f.file(t, "lost.txt", "text/plain", []byte("no verdict"))
	f.scan = files.NewScan(true, f.now)
	done := f.file(t, "done.txt", "text/plain", []byte("verdict"))
	if _, err := svc.Record(ctx, scanning.Verdict{Key: files.ObjectKey(done.AccountID, done.UUID, done.VersionUUID), Status: files.ScanClean}); err != nil {
		t.Fatal(err)
	}
	before := len(f.records(t))
	for i, wait := range []time.Duration{files.ScanOverdue, 30 * time.Minute, time.Hour, 2 * time.Hour} {
		if n, err := svc.Sweep(ctx); err != nil || n != 0 {
			t.Fatalf("look %d early: %d looked at, %v", i+1, n, err)
		}
		f.now = f.now.Add(wait)
		if n, err := svc.Sweep(ctx); err != nil || n != 1 {
			t.Fatalf("look %d: %d looked at, %v", i+1, n, err)
		}
		want := files.ScanPending
		if i == scanning.MaxLooks-1 {
			want = files.ScanFailed
		}
		if got, _ := f.c.Get(ctx, f.p, lost.UUID); got.Scan.Status != want {
			t.Fatalf("after look %d: %+v, want %s", i+1, got.Scan, want)
		}
	}
	if n, err := svc.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("a failed version is looked at again: %d, %v", n, err)
	}
	if recs := f.records(t)[before:]; len(recs) != 1 || recs[0].Types()[0] != outbox.FileScanned {
		t.Fatalf("records after the looks: %d", len(recs))
	}
	if _, _, err := f.c.DownloadURL(ctx, f.p, lost.UUID, "", false); apperr.KindOf(err) != apperr.KindConflict {
		t.Fatalf("a version the scanner never reported: %v, want scan_failed", err)
	}
}
