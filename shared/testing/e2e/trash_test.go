package e2e_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/outbox"

	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/inbound/triggers"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/testing/testenv"
)

func batchBody(uuids ...string) []map[string]string {
	out := make([]map[string]string, len(uuids))
	for i, u := range uuids {
		out[i] = map[string]string{"uuid": u}
	}
	return out
}

// items returns the per-file results of a batch answer.
func items(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, x := range m["_embedded"].(map[string]any)["files"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

// visible reports whether a version's bytes are current in S3 (no delete marker).
func (e *env) visible(t *testing.T, account string, f map[string]any, versionUUID string) bool {
	t.Helper()
	_, err := e.srv.Deps.Blobs().Head(context.Background(), files.ObjectKey(account, f["uuid"].(string), versionUUID))
	return err == nil
}

func (e *env) counters(t *testing.T, account string) (used, trashed, nfiles, versions int64) {
	t.Helper()
	u, err := e.srv.Deps.Store().Usage(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return u.UsedBytes, u.TrashedBytes, u.FileCount, u.VersionCount
}

func TestTrashRestorePurge(t *testing.T) {
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		d1, d2a, d2b, d3 := random(100), random(200), random(300), random(7)
		f1 := c.upload("one.pdf", d1, nil)
		f2a := c.upload("two.pdf", d2a, nil)
		f2 := c.upload("two-v2.pdf", d2b, map[string]any{"file_uuid": f2a["uuid"]})
		f3 := c.upload("three.txt", d3, nil)
		u1, u2 := f1["uuid"].(string), f2["uuid"].(string)

		m := c.expect(200, "DELETE", "/v1/files", batchBody(u1, u2))
		for _, it := range items(t, m) {
			f := it["file"].(map[string]any)
			if it["status"] != "trashed" || f["is_trashed"] != true || f["deleted_by"] != "Integração CRM" || f["purge_at"] == nil {
				t.Fatalf("trash result %v", it)
			}
			deleted, _ := time.Parse(time.RFC3339Nano, f["deleted_at"].(string))
			purge, _ := time.Parse(time.RFC3339Nano, f["purge_at"].(string))
			if purge.Sub(deleted) != catalog.TrashWindow {
				t.Fatalf("purge_at - deleted_at = %v", purge.Sub(deleted))
			}
		}
		if used, trashed, n, v := e.counters(t, c.account); used != 7 || trashed != 600 || n != 1 || v != 1 {
			t.Fatalf("after trash: used %d trashed %d files %d versions %d", used, trashed, n, v)
		}
		if e.visible(t, c.account, f1, f1["version_uuid"].(string)) || e.visible(t, c.account, f2, f2a["version_uuid"].(string)) ||
			e.visible(t, c.account, f2, f2["version_uuid"].(string)) || !e.visible(t, c.account, f3, f3["version_uuid"].(string)) {
			t.Fatal("delete markers are not where they should be")
		}
		if r := c.do("GET", "/v1/files/"+u1+"/download", nil); r.Status != http.StatusGone {
			t.Fatalf("download of a trashed file: %s", r)
		}
		if r := c.do("POST", "/v1/sessions", map[string]any{"file_name": "x", "file_size": 1, "file_uuid": u2}); r.Status != 409 || r.JSON()["code"] != "file_trashed" {
			t.Fatalf("new version of a trashed file: %s", r)
		}
		if ids, _ := c.walk("limit=50"); len(ids) != 1 || ids[0] != f3["uuid"] {
			t.Fatalf("active listing: %v", ids)
		}
		if ids, _ := c.walk("limit=50&filter[deleted]=true"); len(ids) != 2 {
			t.Fatalf("trash listing: %v", ids)
		}
		m = c.expect(200, "DELETE", "/v1/files", batchBody(u1)) // idempotent
		if items(t, m)[0]["status"] != "trashed" {
			t.Fatalf("second trash: %v", m)
		}
		if used, trashed, _, _ := e.counters(t, c.account); used != 7 || trashed != 600 {
			t.Fatal("a repeated trash moved the counters")
		}

		m = c.expect(200, "POST", "/v1/files/restore", batchBody(u2))
		if it := items(t, m)[0]; it["status"] != "restored" || it["file"].(map[string]any)["is_trashed"] != false || it["file"].(map[string]any)["purge_at"] != nil {
			t.Fatalf("restore: %v", it)
		}
		if got, _ := c.download(u2, ""); !bytes.Equal(got, d2b) {
			t.Fatal("restored main version differs")
		}
		if got, _ := c.download(u2, "?version_uuid="+f2a["version_uuid"].(string)); !bytes.Equal(got, d2a) {
			t.Fatal("restored old version differs")
		}
		c.expect(200, "POST", "/v1/files/restore", batchBody(u2)) // idempotent
		if used, trashed, n, v := e.counters(t, c.account); used != 507 || trashed != 100 || n != 2 || v != 3 {
			t.Fatalf("after restore: used %d trashed %d files %d versions %d", used, trashed, n, v)
		}

		m = c.expect(207, "POST", "/v1/files/purge", batchBody(u1, u2))
		got := items(t, m)
		if got[0]["status"] != "purged" || got[1]["status"] != "error" || got[1]["error"].(map[string]any)["code"] != "file_not_trashed" {
			t.Fatalf("purge: %v", got)
		}
		if r := c.do("GET", "/v1/files/"+u1, nil); r.Status != 404 {
			t.Fatalf("purged file: %s", r)
		}
		if n := e.versions(t, files.ObjectKey(c.account, u1, f1["version_uuid"].(string))); n != 0 {
			t.Fatalf("%d object versions left after purge", n)
		}
		if used, trashed, n, _ := e.counters(t, c.account); used != 507 || trashed != 0 || n != 2 {
			t.Fatalf("after purge: used %d trashed %d files %d", used, trashed, n)
		}
		m = c.expect(207, "POST", "/v1/files/purge", batchBody(u1))
		if items(t, m)[0]["error"].(map[string]any)["status"].(float64) != 404 {
			t.Fatalf("second purge: %v", m)
		}
	})
}

func TestTrashBatches(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	a, b := e.account(0, ""), e.account(0, "")
	fa := a.upload("a.txt", []byte("a"), nil)
	fb := b.upload("b.txt", []byte("b"), nil)
	many := make([]string, 51)
	for i := range many {
		many[i] = uuid.NewString()
	}
	for _, tc := range []struct {
		body  any
		field string
	}{
		{[]any{}, "body"},
		{batchBody(many...), "body"},
		{batchBody("nope"), "[0].uuid"},
		{batchBody(fa["uuid"].(string), fa["uuid"].(string)), "[1].uuid"},
		{map[string]any{"uuid": fa["uuid"]}, "body"},
		{`[{"uuid":"` + fa["uuid"].(string) + `","x":1}]`, "[0].x"},
	} {
		for _, path := range []string{"DELETE /v1/files", "POST /v1/files/restore", "POST /v1/files/purge"} {
			method, p, _ := strings.Cut(path, " ")
			r := a.do(method, p, tc.body)
			if r.Status != 400 || r.JSON()["field"] != tc.field {
				t.Fatalf("%s %v: %s (want field %s)", path, tc.body, r, tc.field)
			}
		}
	}
	// Partial failure: another account's file and an unknown one are
	// reported per uuid; the caller's own file is trashed.
	m := a.expect(207, "DELETE", "/v1/files", batchBody(fa["uuid"].(string), fb["uuid"].(string), uuid.NewString()))
	res := items(t, m)
	if res[0]["status"] != "trashed" || res[1]["error"].(map[string]any)["status"].(float64) != 404 || res[2]["error"].(map[string]any)["code"] != "file_not_found" {
		t.Fatalf("partial batch: %v", res)
	}
	b.expect(200, "DELETE", "/v1/files", batchBody(fb["uuid"].(string)))
	m = a.expect(207, "POST", "/v1/files/restore", batchBody(fb["uuid"].(string)))
	if items(t, m)[0]["error"].(map[string]any)["status"].(float64) != 404 {
		t.Fatalf("restore of another account's trashed file: %v", m)
	}
	w := e.account(0, "", string(auth.ScopeRead), string(auth.ScopeWrite))
	for _, path := range []string{"DELETE /v1/files", "POST /v1/files/restore", "POST /v1/files/purge"} {
		method, p, _ := strings.Cut(path, " ")
		if r := w.do(method, p, batchBody(uuid.NewString())); r.Status != 403 || r.JSON()["required_scope"] != "files:delete" {
			t.Fatalf("%s without files:delete: %s", path, r)
		}
	}
}

func TestRestoreWindowAndQuota(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(10, "")
	f := c.upload("a.bin", random(6), nil)
	c.expect(200, "DELETE", "/v1/files", batchBody(f["uuid"].(string)))
	g := c.upload("b.bin", random(6), nil) // the trash freed the space
	m := c.expect(207, "POST", "/v1/files/restore", batchBody(f["uuid"].(string)))
	if e := items(t, m)[0]["error"].(map[string]any); e["code"] != "quota_exceeded" || e["status"].(float64) != 507 {
		t.Fatalf("restore over quota: %v", m)
	}
	if e.visible(t, c.account, f, f["version_uuid"].(string)) {
		t.Fatal("a refused restore left the bytes visible")
	}
	c.expect(200, "DELETE", "/v1/files", batchBody(g["uuid"].(string)))
	e.clock.Advance(catalog.TrashWindow + time.Second)
	m = c.expect(207, "POST", "/v1/files/restore", batchBody(f["uuid"].(string)))
	if e := items(t, m)[0]["error"].(map[string]any); e["code"] != "purge_window_passed" || e["status"].(float64) != 410 {
		t.Fatalf("restore after the window: %v", m)
	}
	if r := c.do("GET", "/v1/files/"+f["uuid"].(string), nil); r.Status != 404 {
		t.Fatalf("a file past its purge time: %s", r)
	}
	if ids, _ := c.walk("filter[deleted]=true"); len(ids) != 0 {
		t.Fatalf("trash listing shows purged files: %v", ids)
	}
}

// TestTrashCrashSafety fails every AWS call of trash, restore and purge in
// turn (before AWS and after it applied the call), retries, and checks the
// counters, the file state, the delete markers and the bytes.
func TestTrashCrashSafety(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	record := func(method, path string, body any, want int) []string {
		e.probe.Reset()
		c.expect(want, method, path, body)
		return e.probe.Calls()
	}
	f := c.upload("probe.bin", random(10), nil)
	trashCalls := record("DELETE", "/v1/files", batchBody(f["uuid"].(string)), 200)
	restoreCalls := record("POST", "/v1/files/restore", batchBody(f["uuid"].(string)), 200)
	c.expect(200, "DELETE", "/v1/files", batchBody(f["uuid"].(string)))
	purgeCalls := record("POST", "/v1/files/purge", batchBody(f["uuid"].(string)), 200)
	data := random(1234)
	for _, op := range []struct {
		name, method, path string
		calls              []string
		before             func(uuid string)
		check              func(t *testing.T, fm map[string]any)
	}{
		{"trash", "DELETE", "/v1/files", trashCalls, func(string) {}, func(t *testing.T, fm map[string]any) {
			if g := c.expect(200, "GET", "/v1/files/"+fm["uuid"].(string), nil); g["is_trashed"] != true || e.visible(t, c.account, fm, fm["version_uuid"].(string)) {
				t.Fatal("not trashed, or bytes still visible")
			}
		}},
		{"restore", "POST", "/v1/files/restore", restoreCalls, func(u string) { c.expect(200, "DELETE", "/v1/files", batchBody(u)) }, func(t *testing.T, fm map[string]any) {
			if got, _ := c.download(fm["uuid"].(string), ""); !bytes.Equal(got, data) {
				t.Fatal("restored bytes differ")
			}
		}},
		{"purge", "POST", "/v1/files/purge", purgeCalls, func(u string) { c.expect(200, "DELETE", "/v1/files", batchBody(u)) }, func(t *testing.T, fm map[string]any) {
			if r := c.do("GET", "/v1/files/"+fm["uuid"].(string), nil); r.Status != 404 || e.versions(t, files.ObjectKey(c.account, fm["uuid"].(string), fm["version_uuid"].(string))) != 0 {
				t.Fatalf("not purged: %s", r)
			}
		}},
	} {
		for _, fp := range faultPoints(op.calls) {
			t.Run(op.name+"/"+faultName(fp), func(t *testing.T) {
				used0, trashed0, n0, _ := e.counters(t, c.account)
				ev0 := e.outbox(t, c.account)
				fm := c.upload("crash.bin", data, nil)
				u := fm["uuid"].(string)
				op.before(u)
				e.probe.Arm(fp)
				r := c.do(op.method, op.path, batchBody(u))
				e.probe.Disarm()
				if r.Status != 500 && r.Status != 200 {
					t.Fatalf("faulted %s: %s", op.name, r)
				}
				// A purge whose transaction landed before the crash finds
				// the file gone on retry: the same state, reported as 404.
				r = c.do(op.method, op.path, batchBody(u))
				if r.Status != 200 && !(op.name == "purge" && r.Status == 207 && strings.Contains(string(r.Body), `"code":"file_not_found"`)) {
					t.Fatalf("retried %s: %s", op.name, r)
				}
				op.check(t, fm)
				used, trashed, n, _ := e.counters(t, c.account)
				want := map[string][3]int64{"trash": {used0, trashed0 + 1234, n0}, "restore": {used0 + 1234, trashed0, n0 + 1}, "purge": {used0, trashed0, n0}}[op.name]
				if used != want[0] || trashed != want[1] || n != want[2] {
					t.Fatalf("counters used %d trashed %d files %d, want %v", used, trashed, n, want)
				}
				// each change's event once, whichever call failed
				ev := e.outbox(t, c.account)
				wantEv := map[string]map[outbox.Type]int{"trash": {outbox.FileTrashed: 1}, "restore": {outbox.FileTrashed: 1, outbox.FileRestored: 1},
					"purge": {outbox.FileTrashed: 1, outbox.FilePurged: 1}}[op.name]
				wantEv[outbox.FileCreated] = 1
				for _, typ := range outbox.Types {
					if ev[typ]-ev0[typ] != wantEv[typ] {
						t.Fatalf("events %v, before %v: want %v more", ev, ev0, wantEv)
					}
				}
			})
		}
	}
}

// TestSweeper: files past their window are purged by the scheduled sweep
// with exact counters; restored and fresh ones are left alone.
func TestSweeper(t *testing.T) {
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		old := c.upload("old.bin", random(40), nil)
		back := c.upload("back.bin", random(50), nil)
		keep := c.upload("keep.bin", random(60), nil)
		c.expect(200, "DELETE", "/v1/files", batchBody(old["uuid"].(string), back["uuid"].(string)))
		c.expect(200, "POST", "/v1/files/restore", batchBody(back["uuid"].(string)))
		if n, err := e.srv.Function(lambdas.Sweeper).Catalog().Sweep(context.Background()); err != nil || n != 0 {
			t.Fatalf("early sweep purged %d (%v)", n, err)
		}
		e.clock.Advance(catalog.TrashWindow + time.Minute)
		fresh := c.upload("fresh.bin", random(70), nil)
		c.expect(200, "DELETE", "/v1/files", batchBody(fresh["uuid"].(string)))
		if n, err := e.srv.Function(lambdas.Sweeper).Catalog().Sweep(context.Background()); err != nil || n != 1 {
			t.Fatalf("sweep purged %d (%v), want 1", n, err)
		}
		if n, _ := e.srv.Function(lambdas.Sweeper).Catalog().Sweep(context.Background()); n != 0 {
			t.Fatalf("second sweep purged %d", n)
		}
		if _, err := e.srv.Deps.Store().GetFile(context.Background(), c.account, old["uuid"].(string)); err == nil {
			t.Fatal("the swept file's record remains")
		}
		if n := e.versions(t, files.ObjectKey(c.account, old["uuid"].(string), old["version_uuid"].(string))); n != 0 {
			t.Fatalf("%d object versions left", n)
		}
		if used, trashed, n, _ := e.counters(t, c.account); used != 110 || trashed != 70 || n != 2 {
			t.Fatalf("after sweep: used %d trashed %d files %d", used, trashed, n)
		}
		c.expect(200, "GET", "/v1/files/"+keep["uuid"].(string), nil)
		c.expect(200, "GET", "/v1/files/"+back["uuid"].(string), nil)
	})
}

// TestSweeperDrainsBacklog: one scheduled run purges a backlog of several
// batches of due files while its invocation has time; with less time left
// than triggers.SweepReserve it stops after one batch and the next run goes on,
// so a backlog never waits a run per hundred files. (The embedded
// DynamoDB copies its whole table on every transaction: 300 files keep
// this test short; app's TestDrain drains 1,000 through the same loop.)
func TestSweeperDrainsBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 450 files")
	}
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	ctx := context.Background()
	// seeds n active files (metadata only: they have no bytes) and trashes
	// them in the table, due at once
	trashed := func(n int, seed uint64) {
		t.Helper()
		active := func(f *files.File) []entities.Attachment { f.IsTrashed = false; return nil }
		now := e.clock.Now()
		for _, f := range seedWith(t, e, c.account, n, rand.New(rand.NewPCG(3, seed)), now, active) {
			if err := e.srv.Deps.Store().TrashFile(ctx, f, now, now, "test", nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	due := func() int {
		t.Helper()
		fs, err := e.srv.Deps.Store().DuePurges(ctx, e.clock.Now(), 5000)
		if err != nil {
			t.Fatal(err)
		}
		return len(fs)
	}
	sweep := app.Sweeper(e.srv.Function(lambdas.Sweeper))
	trashed(300, 1)
	if n := due(); n != 300 {
		t.Fatalf("%d files due, want 300", n)
	}
	run, cancel := context.WithTimeout(ctx, 5*time.Minute) // the function's timeout
	defer cancel()
	if err := sweep(run, lambdaevents.EventBridgeEvent{ID: "backlog"}); err != nil {
		t.Fatal(err)
	}
	if n := due(); n != 0 {
		t.Fatalf("%d files still due after one run", n)
	}
	if _, trashedBytes, nfiles, _ := e.counters(t, c.account); trashedBytes != 0 || nfiles != 0 {
		t.Fatalf("after the sweep: %d trashed bytes, %d files", trashedBytes, nfiles)
	}

	trashed(150, 2)
	// an invocation with less than SweepReserve left: one batch, then it
	// stops (the deadline is only reported, so a slow machine cannot make
	// the batch itself run out of time)
	late := reportedDeadline{ctx, time.Now().Add(triggers.SweepReserve / 2)}
	if err := sweep(late, lambdaevents.EventBridgeEvent{ID: "late"}); err != nil {
		t.Fatal(err)
	}
	if n := due(); n != 150-catalog.SweepBatch {
		t.Fatalf("%d files due after a run with little time, want %d (one batch)", n, 150-catalog.SweepBatch)
	}
}

// reportedDeadline reports a deadline it never enforces.
type reportedDeadline struct {
	context.Context
	at time.Time
}

func (r reportedDeadline) Deadline() (time.Time, bool) { return r.at, true }
