package catalog_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

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

// failingPurge fails the first PurgeInfected: a crash after the bytes
// were erased, before the purge was recorded.
type failingPurge struct {
	scanning.Store
	failed bool
}

func (s *failingPurge) PurgeInfected(ctx context.Context, v files.Version, f files.File, rec *outbox.Record) error {
	if !s.failed {
		s.failed = true
		return errors.New("injected: crash before the purge is recorded")
	}
	return s.Store.PurgeInfected(ctx, v, f, rec)
}

// TestQuarantine: an infected version's bytes are kept (quarantined)
// until Quarantine after its verdict, then the sweep erases them and
// records it once (file.version_purged): its record stays with
// purged_at, its size leaves the file's total and the account's used or
// trashed bytes — exactly once, even when the sweep crashes between the
// erase and the record. Clean versions beside it are untouched.
func TestQuarantine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFake(t)
	store := &failingPurge{Store: f.store}
	svc := &scanning.Service{Store: store, Tags: f.blobs, Blobs: f.blobs, Clock: func() time.Time { return f.now }}
	f.scan = files.NewScan(true, f.now)
	a := f.file(t, "a.txt", "text/plain", []byte("clean first version"))
	key := func(account, fileUUID, versionUUID string) string {
		return files.ObjectKey(account, fileUUID, versionUUID)
	}
	record := func(file files.File, st files.ScanStatus) {
		t.Helper()
		got, err := svc.Record(ctx, scanning.Verdict{Key: key(file.AccountID, file.UUID, file.VersionUUID), Status: st, Threats: map[bool][]string{true: {"EICAR"}}[st == files.ScanInfected], At: f.now})
		if err != nil || got != scanning.Recorded {
			t.Fatalf("record %s: %s, %v", st, got, err)
		}
	}
	record(a, files.ScanClean)
	// a second version of a, infected, becomes main
	a2 := a
	a2.VersionUUID = uuid.Must(uuid.NewV7()).String()
	bad := []byte("X5O!P%@AP... an infected second version")
	s3v, err := f.blobs.PutObject(ctx, key(a.AccountID, a.UUID, a2.VersionUUID), "text/plain", bad)
	if err != nil {
		t.Fatal(err)
	}
	a2.Size = int64(len(bad))
	if err := f.store.AddVersion(a2, files.Version{AccountID: a.AccountID, FileUUID: a.UUID, UUID: a2.VersionUUID, Name: "a.txt",
		MimeType: "text/plain", Size: a2.Size, Key: key(a.AccountID, a.UUID, a2.VersionUUID), S3Version: s3v, Scan: files.NewScan(true, f.now)}); err != nil {
		t.Fatal(err)
	}
	record(a2, files.ScanInfected)
	// b: infected, then trashed
	b := f.file(t, "b.txt", "text/plain", []byte("infected and trashed"))
	record(b, files.ScanInfected)
	if _, err := f.c.Trash(ctx, f.p, []string{b.UUID}); err != nil {
		t.Fatal(err)
	}
	infectedAt := f.now
	got, err := f.c.Get(ctx, f.p, a.UUID)
	if err != nil || got.Scan.Status != files.ScanInfected || got.Scan.PurgeAt == nil || !got.Scan.PurgeAt.Equal(got.Scan.ScannedAt.Add(files.Quarantine)) || got.Scan.PurgedAt != nil {
		t.Fatalf("a quarantined main version: %+v, %v; want purge_at its verdict's time + %s", got.Scan, err, files.Quarantine)
	}
	before, _ := f.store.Usage(ctx, f.p.AccountID)
	recs := len(f.records(t))

	f.now = infectedAt.Add(files.Quarantine - time.Minute)
	if n, err := svc.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("a sweep inside the quarantine handled %d, %v", n, err)
	}
	f.now = infectedAt.Add(files.Quarantine + time.Minute)
	if _, err := svc.Sweep(ctx); err == nil {
		t.Fatal("the injected crash was not reported")
	}
	if n, err := svc.Sweep(ctx); err != nil || n != 2 {
		t.Fatalf("the sweep after the quarantine handled %d, %v; want 2", n, err)
	}
	if n, err := svc.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("purged versions are swept again: %d, %v", n, err)
	}
	for _, k := range []string{key(a.AccountID, a.UUID, a2.VersionUUID), key(b.AccountID, b.UUID, b.VersionUUID)} {
		if vs, err := f.blobs.Versions(ctx, k); err != nil || len(vs) != 0 {
			t.Fatalf("infected bytes kept after the quarantine: %s: %v, %v", k, vs, err)
		}
	}
	if vs, err := f.blobs.Versions(ctx, key(a.AccountID, a.UUID, a.VersionUUID)); err != nil || len(vs) != 1 {
		t.Fatalf("the clean version's bytes: %v, %v", vs, err)
	}
	after, _ := f.store.Usage(ctx, f.p.AccountID)
	if after.UsedBytes != before.UsedBytes-a2.Size || after.TrashedBytes != before.TrashedBytes-b.Size || after.VersionCount != before.VersionCount {
		t.Fatalf("usage %+v after the purge, %+v before; want %d fewer used and %d fewer trashed bytes", after, before, a2.Size, b.Size)
	}
	got, _ = f.c.Get(ctx, f.p, a.UUID)
	if got.Scan.PurgedAt == nil || got.TotalBytes != a.Size {
		t.Fatalf("file a after the purge: scan %+v, total %d; want purged_at and %d", got.Scan, got.TotalBytes, a.Size)
	}
	if _, _, err := f.c.DownloadURL(ctx, f.p, a.UUID, a.VersionUUID, false); err != nil {
		t.Fatalf("the clean version after its sibling's purge: %v", err)
	}
	var purged []outbox.Type
	for _, r := range f.records(t)[recs:] {
		purged = append(purged, r.Types()...)
	}
	if len(purged) != 2 || purged[0] != outbox.FileVersionPurged || purged[1] != outbox.FileVersionPurged {
		t.Fatalf("events of the purge: %v; want file.version_purged twice", purged)
	}
	// the trashed file is restored and purged for good with exact counters
	if _, err := f.c.Restore(ctx, f.p, []string{b.UUID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Trash(ctx, f.p, []string{a.UUID, b.UUID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Purge(ctx, f.p, []string{a.UUID, b.UUID}); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.store.Usage(ctx, f.p.AccountID); u.UsedBytes != 0 || u.TrashedBytes != 0 {
		t.Fatalf("usage after every file was purged: %+v", u)
	}
}
