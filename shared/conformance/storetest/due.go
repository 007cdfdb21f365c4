package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/files"
)

// testDueAfterPurge: a version whose verdict took it off the sweeper's
// queue, purged with its file, leaves the queues whole: a file trashed
// afterwards is due at its time (minidyn lost it: removeFix).
func testDueAfterPurge(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	f := put(t, s, acct, "a.txt", 5, now)
	v, _ := s.GetVersion(ctx, acct, f.UUID, f.VersionUUID)
	at := now.Truncate(time.Second)
	v.Scan = files.Scan{Status: files.ScanClean, ScannedAt: &at}
	if err := s.RecordScan(ctx, v, files.ScanPending, true, nil); err != nil {
		t.Fatal(err)
	}
	f, _ = s.GetFile(ctx, acct, f.UUID)
	if err := s.TrashFile(ctx, f, now, now.Add(catalog.TrashWindow), "crm", nil); err != nil {
		t.Fatal(err)
	}
	f, _ = s.GetFile(ctx, acct, f.UUID)
	vs, _, _ := s.ListVersions(ctx, acct, f.UUID, nil, 10)
	if err := s.PurgeFile(ctx, f, vs, nil); err != nil {
		t.Fatal(err)
	}
	g := put(t, s, acct, "b.txt", 5, now)
	g, _ = s.GetFile(ctx, acct, g.UUID)
	if err := s.TrashFile(ctx, g, now, now.Add(time.Hour), "crm", nil); err != nil {
		t.Fatal(err)
	}
	due, err := s.DuePurges(ctx, now.Add(2*time.Hour), 10)
	if err != nil || !slices.ContainsFunc(due, func(x files.File) bool { return x.UUID == g.UUID }) {
		t.Fatalf("not due after a purge: %d %v", len(due), err)
	}
}
