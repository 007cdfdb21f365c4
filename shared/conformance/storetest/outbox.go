package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// records reads an account's whole outbox.
func records(t *testing.T, s Store, acct string) []outbox.Record {
	t.Helper()
	recs, next, err := s.Records(context.Background(), outbox.Scan{AccountID: acct, Until: now.Add(time.Hour), Limit: 1000, Budget: 1000})
	if err != nil || next != "" {
		t.Fatalf("Records = %d, %q, %v", len(recs), next, err)
	}
	return recs
}

// wrote checks that the outbox now holds exactly want more records than
// before, the last one of type typ.
func wrote(t *testing.T, s Store, acct string, before *int, typ outbox.Type, want int) {
	t.Helper()
	recs := records(t, s, acct)
	if len(recs) != *before+want {
		t.Fatalf("%s: %d records, want %d", typ, len(recs), *before+want)
	}
	if want > 0 && recs[len(recs)-1].Events[0].Type != typ {
		t.Fatalf("last record %+v, want %s", recs[len(recs)-1], typ)
	}
	*before = len(recs)
}

// testOutbox: every state change writes its record with it, and a write
// refused (a condition failed: a retry, a concurrent change) writes none.
func testOutbox(t *testing.T, s Store) {
	ctx := context.Background()
	acct := account(t, s, 0)
	n := 0
	tick := now
	rec := func(typ outbox.Type) *outbox.Record {
		tick = tick.Add(time.Second)
		return outbox.NewRecord(acct, tick).Add(typ, map[string]string{"k": string(typ)})
	}

	sess := session(acct, 10)
	if err := s.PutSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	c := commitOf(sess, files.File{})
	c.Events = rec(outbox.FileCreated)
	if err := s.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	wrote(t, s, acct, &n, outbox.FileCreated, 1)
	c.Events = rec(outbox.FileCreated)
	if err := s.Commit(ctx, c); err == nil {
		t.Fatal("a second commit of the session succeeded")
	}
	wrote(t, s, acct, &n, outbox.FileCreated, 0)
	f, _ := s.GetFile(ctx, acct, sess.FileUUID)
	lead := entities.Ref{Type: entities.Lead, UUID: sess.ID}
	att := func(kind entities.Kind) entities.Attachment {
		return entities.Attachment{Entity: lead, FileUUID: f.UUID, Kind: kind, FileCreated: f.CreatedAt, AttachedAt: now, AttachedBy: "crm"}
	}

	if err := s.Attach(ctx, acct, att(entities.KindMedia), rec(outbox.FileAttached)); err != nil {
		t.Fatal(err)
	}
	wrote(t, s, acct, &n, outbox.FileAttached, 1)
	_ = s.Attach(ctx, acct, att(entities.KindMedia), rec(outbox.FileAttached))
	wrote(t, s, acct, &n, outbox.FileAttached, 0)
	var found []entities.Attachment
	detach := func(xs []entities.Attachment) *outbox.Record { found = xs; return rec(outbox.FileDetached) }
	if k, err := s.Detach(ctx, acct, att(""), detach); err != nil || k != 1 || len(found) != 1 || found[0].Kind != entities.KindMedia {
		t.Fatalf("Detach = %d %v, found %+v", k, err, found)
	}
	wrote(t, s, acct, &n, outbox.FileDetached, 1)
	if k, _ := s.Detach(ctx, acct, att(""), detach); k != 0 {
		t.Fatal("detached twice")
	}
	wrote(t, s, acct, &n, outbox.FileDetached, 0)

	if err := s.PromoteVersion(ctx, f, rec(outbox.FilePromoted)); err != nil {
		t.Fatal(err)
	}
	wrote(t, s, acct, &n, outbox.FilePromoted, 1)
	purgeAt := now.Add(time.Hour)
	if err := s.TrashFile(ctx, f, now, purgeAt, "crm", rec(outbox.FileTrashed)); err != nil {
		t.Fatal(err)
	}
	wrote(t, s, acct, &n, outbox.FileTrashed, 1)
	_ = s.TrashFile(ctx, f, now, purgeAt, "crm", rec(outbox.FileTrashed))
	_ = s.PromoteVersion(ctx, f, rec(outbox.FilePromoted)) // trashed: refused
	wrote(t, s, acct, &n, outbox.FileTrashed, 0)
	tf, _ := s.GetFile(ctx, acct, f.UUID)
	if err := s.RestoreFile(ctx, tf, now, rec(outbox.FileRestored)); err != nil {
		t.Fatal(err)
	}
	wrote(t, s, acct, &n, outbox.FileRestored, 1)
	_ = s.RestoreFile(ctx, tf, now, rec(outbox.FileRestored))
	wrote(t, s, acct, &n, outbox.FileRestored, 0)
	if err := s.TrashFile(ctx, f, now, purgeAt, "crm", rec(outbox.FileTrashed)); err != nil {
		t.Fatal(err)
	}
	tf, _ = s.GetFile(ctx, acct, f.UUID)
	if err := s.PurgeFile(ctx, tf, nil, rec(outbox.FilePurged)); err != nil {
		t.Fatal(err)
	}
	wrote(t, s, acct, &n, outbox.FilePurged, 2)
	_ = s.PurgeFile(ctx, tf, nil, rec(outbox.FilePurged))
	wrote(t, s, acct, &n, outbox.FilePurged, 0)

	b := batch(acct, 100, 5, 6)
	if err := s.PutPending(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitBatch(ctx, b, now, rec(outbox.BatchCreated)); err != nil {
		t.Fatal(err)
	}
	wrote(t, s, acct, &n, outbox.BatchCreated, 1)
	_ = s.CommitBatch(ctx, b, now, rec(outbox.BatchCreated))
	wrote(t, s, acct, &n, outbox.BatchCreated, 0)

	// an expired session leaves the sweeper's index with its event, once;
	// a completed one leaves without
	open := session(acct, 3)
	if err := s.PutSession(ctx, open); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.RescheduleSession(ctx, acct, open.ID, time.Time{}, rec(outbox.SessionExpired)); err != nil {
			t.Fatal(err)
		}
	}
	wrote(t, s, acct, &n, outbox.SessionExpired, 1)
	if err := s.RescheduleSession(ctx, acct, sess.ID, time.Time{}, rec(outbox.SessionExpired)); err != nil {
		t.Fatal(err)
	}
	wrote(t, s, acct, &n, outbox.SessionExpired, 0)
}

// testRecords: an account's records read back in (time, id) order, after
// a position, up to a time, of some types, a page at a time, within a
// budget of records evaluated.
func testRecords(t *testing.T, s Store) {
	ctx := context.Background()
	acct, other := account(t, s, 0), account(t, s, 0)
	types := []outbox.Type{outbox.FileCreated, outbox.FileTrashed, outbox.FileCreated, outbox.FileAttached, outbox.FileCreated}
	var want []string // record ids in order
	for i, typ := range types {
		sess := session(acct, 1)
		if err := s.PutSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		c := commitOf(sess, files.File{})
		c.File.ID = int64(i + 1)
		c.Events = outbox.NewRecord(acct, now.Add(time.Duration(i)*time.Minute)).Add(typ, map[string]int{"i": i}).Add(outbox.FileAttached, nil)
		if err := s.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
		want = append(want, c.Events.ID)
	}
	scan := func(q outbox.Scan) ([]string, string) {
		t.Helper()
		q.AccountID = acct
		if q.Until.IsZero() {
			q.Until = now.Add(time.Hour)
		}
		if q.Budget == 0 {
			q.Budget = 100
		}
		if q.Limit == 0 {
			q.Limit = 100
		}
		recs, next, err := s.Records(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range recs {
			ids = append(ids, r.ID)
			if r.AccountID != acct || len(r.Events) != 2 || r.Events[1].Type != outbox.FileAttached || string(r.Events[1].Data) != "null" {
				t.Fatalf("record %+v", r)
			}
		}
		return ids, next
	}
	all, _ := scan(outbox.Scan{})
	if !equal(all, want) {
		t.Fatalf("all = %v, want %v", all, want)
	}
	page, next := scan(outbox.Scan{Limit: 2})
	if !equal(page, want[:2]) || next == "" {
		t.Fatalf("page of 2 = %v next %q", page, next)
	}
	if rest, last := scan(outbox.Scan{After: next}); !equal(rest, want[2:]) || last != "" {
		t.Fatalf("after %q = %v %q", next, rest, last)
	}
	if upTo, _ := scan(outbox.Scan{Until: now.Add(2 * time.Minute)}); !equal(upTo, want[:3]) {
		t.Fatalf("until +2m = %v", upTo)
	}
	if created, _ := scan(outbox.Scan{Types: []outbox.Type{outbox.FileCreated}}); !equal(created, []string{want[0], want[2], want[4]}) {
		t.Fatalf("file.created = %v", created)
	}
	if trashed, _ := scan(outbox.Scan{Types: []outbox.Type{outbox.FileTrashed, outbox.SessionExpired}}); !equal(trashed, []string{want[1]}) {
		t.Fatalf("file.trashed = %v", trashed)
	}
	// a budget of 2 records evaluated stops early with where to go on
	if ids, stop := scan(outbox.Scan{Types: []outbox.Type{outbox.FileTrashed}, Budget: 1}); len(ids) != 0 || stop == "" {
		t.Fatalf("budget 1 = %v %q", ids, stop)
	} else if ids, _ := scan(outbox.Scan{Types: []outbox.Type{outbox.FileTrashed}, After: stop}); !equal(ids, []string{want[1]}) {
		t.Fatalf("after the budget stop = %v", ids)
	}
	if recs, _, err := s.Records(ctx, outbox.Scan{AccountID: other, Until: now.Add(time.Hour), Limit: 10, Budget: 10}); err != nil || len(recs) != 0 {
		t.Fatalf("another account's outbox = %v %v", recs, err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
