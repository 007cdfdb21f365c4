package e2e_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/testing/norace"
	"github.com/anexo/anexo/shared/testing/presigned"
	"github.com/anexo/anexo/shared/testing/testenv"
)

const MiB = 1 << 20

// TestUploadSizes uploads real files through presigned part URLs and
// downloads them back, on the embedded emulators and on moto_server (the
// 101 MiB file on the embedded S3 only, which checks every part's checksum).
func TestUploadSizes(t *testing.T) {
	norace.Run(t)
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		var last float64
		for _, tc := range []struct {
			name  string
			size  int
			parts int
		}{
			{"empty.txt", 0, 0},
			{"one-byte.bin", 1, 1},
			{"exactly-one-part.bin", 8 * MiB, 1},
			{"many-parts.bin", 3*8*MiB + 5, 4},
			{"big.bin", 101 * MiB, 13},
		} {
			if tc.size > 100*MiB && be.Name == "moto" {
				continue
			}
			t.Run(tc.name, func(t *testing.T) {
				data := random(tc.size)
				s := c.open(tc.name, tc.size, nil)
				if got := int(s["part_count"].(float64)); got != tc.parts {
					t.Fatalf("part_count = %d, want %d", got, tc.parts)
				}
				f := c.upload(tc.name, data, nil)
				// numeric ids grow per account (a retried counter update
				// may skip one, as on DynamoDB)
				if f["size"].(float64) != float64(tc.size) || f["name"] != tc.name || f["id"].(float64) <= last ||
					f["created_by"] != "Integração CRM" || f["version_count"].(float64) != 1 || f["is_trashed"] != false {
					t.Fatalf("file = %v (the last id was %v)", f, last)
				}
				last = f["id"].(float64)
				got, h := c.download(f["uuid"].(string), "")
				if sum(got) != sum(data) {
					t.Fatalf("downloaded %d bytes, sha256 differs from the %d uploaded", len(got), len(data))
				}
				if be.Name == "embedded" && h.Get("Content-Disposition") != `attachment; filename="`+tc.name+`"; filename*=UTF-8''`+tc.name {
					t.Fatalf("Content-Disposition = %q", h.Get("Content-Disposition"))
				}
				g := c.expect(200, "GET", "/v1/files/"+f["uuid"].(string), nil)
				if g["version_uuid"] != f["version_uuid"] || g["size"] != f["size"] {
					t.Fatalf("GET file = %v", g)
				}
			})
		}
	})
}

// TestResume interrupts an upload, reads the session back and finishes it.
func TestResume(t *testing.T) {
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		data := random(2*8*MiB + 1000)
		s := c.open("resume.bin", len(data), nil)
		id := s["id"].(string)
		parts := partsOf(s)
		c.putParts(data, 8*MiB, []part{parts[0], parts[2]}) // part 2 was "killed"
		st := c.expect(200, "GET", "/v1/sessions/"+id, nil)
		if st["session"].(map[string]any)["status"] != "open" || st["bytes_uploaded"].(float64) != float64(8*MiB+1000) {
			t.Fatalf("status = %v", st)
		}
		if m := st["missing_parts"].([]any); len(m) != 1 || m[0].(float64) != 2 {
			t.Fatalf("missing_parts = %v", m)
		}
		if up := st["uploaded_parts"].([]any); len(up) != 2 {
			t.Fatalf("uploaded_parts = %v", up)
		}
		r := c.do("POST", "/v1/sessions/"+id+"/complete", nil)
		if r.Status != 409 || r.JSON()["code"] != "parts_missing" {
			t.Fatalf("complete with a missing part: %s", r)
		}
		c.putParts(data, 8*MiB, c.partURLs(id, 2))
		// Every part is in: the session closes itself on its status call
		// (the client never completes), and completion answers that file.
		st = c.expect(200, "GET", "/v1/sessions/"+id, nil)
		if st["session"].(map[string]any)["status"] != "completed" || st["file"] == nil || st["file"].(map[string]any)["uuid"] != s["file_uuid"] {
			t.Fatalf("status with every part in = %v", st)
		}
		f := c.expect(200, "POST", "/v1/sessions/"+id+"/complete", nil)
		got, _ := c.download(f["uuid"].(string), "")
		if !bytes.Equal(got, data) {
			t.Fatal("resumed upload differs")
		}
		if used, files, _ := usage(t, e, c.account); files != 1 || used != int64(len(data)) {
			t.Fatalf("usage %d bytes %d files", used, files)
		}
	})
}

func usage(t *testing.T, e *env, account string) (used, files, versions int64) {
	t.Helper()
	u, err := e.srv.Deps.Store().Usage(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return u.UsedBytes, u.FileCount, u.VersionCount
}

// TestCompleteTwiceAndRace: retries and concurrent completions all answer
// the same file; counters move once.
func TestCompleteTwiceAndRace(t *testing.T) {
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		data := random(9 * MiB)
		s := c.open("race.bin", len(data), nil)
		id := s["id"].(string)
		c.putParts(data, 8*MiB, partsOf(s))
		n := 6
		if be.Name == "moto" {
			// moto neither isolates concurrent transactions (two can both
			// pass their conditions) nor multipart operations (ListParts
			// during a completion answers no parts): on moto the retries
			// are sequential; real concurrency runs on the embedded
			// emulators, and DynamoDB and S3 guarantee both.
			n = 1
		}
		results := make([]response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() { defer wg.Done(); results[i] = c.do("POST", "/v1/sessions/"+id+"/complete", nil) }()
		}
		wg.Wait()
		uuid := ""
		for _, r := range results {
			if r.Status != 200 {
				t.Fatalf("concurrent complete: %s", r)
			}
			if u := r.JSON()["uuid"].(string); uuid == "" {
				uuid = u
			} else if u != uuid {
				t.Fatalf("two files from one session: %s and %s", uuid, u)
			}
		}
		again := c.expect(200, "POST", "/v1/sessions/"+id+"/complete", nil)
		if again["uuid"] != uuid {
			t.Fatalf("retry answered another file: %v", again)
		}
		if used, files, versions := usage(t, e, c.account); used != int64(len(data)) || files != 1 || versions != 1 {
			t.Fatalf("usage = %d bytes, %d files, %d versions; want %d, 1, 1", used, files, versions, len(data))
		}
		got, _ := c.download(uuid, "")
		if !bytes.Equal(got, data) {
			t.Fatal("bytes differ")
		}
	})
}

// TestNewVersion uploads a second version of a file.
func TestNewVersion(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	v1, v2 := random(100), random(200)
	f1 := c.upload("contrato.pdf", v1, nil)
	f2 := c.upload("contrato-v2.pdf", v2, map[string]any{"file_uuid": f1["uuid"]})
	if f2["uuid"] != f1["uuid"] || f2["id"] != f1["id"] || f2["version_uuid"] == f1["version_uuid"] ||
		f2["version_count"].(float64) != 2 || f2["name"] != "contrato-v2.pdf" || f2["created_at"] != f1["created_at"] {
		t.Fatalf("new version: %v (first %v)", f2, f1)
	}
	if got, _ := c.download(f1["uuid"].(string), ""); !bytes.Equal(got, v2) {
		t.Fatal("main version is not the new bytes")
	}
	if got, _ := c.download(f1["uuid"].(string), "?version_uuid="+f1["version_uuid"].(string)); !bytes.Equal(got, v1) {
		t.Fatal("old version bytes differ")
	}
	if used, files, versions := usage(t, e, c.account); used != 300 || files != 1 || versions != 2 {
		t.Fatalf("usage = %d %d %d", used, files, versions)
	}
	r := c.do("POST", "/v1/sessions", map[string]any{"file_name": "x", "file_size": 1, "file_uuid": "3c90c3cc-0d44-4b50-8888-8dd25736052a"})
	if r.Status != 404 || r.JSON()["code"] != "file_not_found" {
		t.Fatalf("version of an unknown file: %s", r)
	}
}

// TestSessionExpiry: after 24 h, parts and complete answer 410.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	s := c.open("late.bin", 10, nil)
	id := s["id"].(string)
	c.putParts(random(10), 8*MiB, partsOf(s))
	e.clock.Advance(24*time.Hour + time.Second)
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/sessions/" + id + "/parts", map[string]any{"part_numbers": []int{1}}},
		{"POST", "/v1/sessions/" + id + "/complete", nil},
	} {
		r := c.do(req.method, req.path, req.body)
		if r.Status != http.StatusGone || r.JSON()["code"] != "session_expired" {
			t.Fatalf("%s %s after expiry: %s", req.method, req.path, r)
		}
	}
	st := c.expect(200, "GET", "/v1/sessions/"+id, nil)
	if st["session"].(map[string]any)["status"] != "expired" {
		t.Fatalf("status = %v", st)
	}
	c.expect(204, "DELETE", "/v1/sessions/"+id, nil)
	if used, files, _ := usage(t, e, c.account); used != 0 || files != 0 {
		t.Fatalf("an expired session left usage: %d %d", used, files)
	}
}

// TestAbort releases the upload; later calls answer clearly.
func TestAbort(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	s := c.open("abort.bin", 10, nil)
	id := s["id"].(string)
	c.putParts(random(10), 8*MiB, partsOf(s))
	c.expect(204, "DELETE", "/v1/sessions/"+id, nil)
	c.expect(204, "DELETE", "/v1/sessions/"+id, nil) // idempotent
	r := c.do("POST", "/v1/sessions/"+id+"/complete", nil)
	if r.Status != 409 || r.JSON()["code"] != "session_aborted" {
		t.Fatalf("complete after abort: %s", r)
	}
	st := c.expect(200, "GET", "/v1/sessions/"+id, nil)
	if st["session"].(map[string]any)["status"] != "aborted" {
		t.Fatalf("status = %v", st)
	}
	f := c.upload("done.bin", random(5), nil)
	r = c.do("DELETE", "/v1/sessions/"+f["uuid"].(string), nil)
	if r.Status != 404 {
		t.Fatalf("abort of a file uuid: %s", r)
	}
}

// TestWrongPartLength: S3 (versitygw verifies SigV4) refuses a body whose
// length differs from the signed Content-Length, and completion refuses
// parts of the wrong size.
func TestWrongPartLength(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	s := c.open("exact.bin", 100, nil)
	p := partsOf(s)[0]
	if p.Headers["Content-Length"] != "100" {
		t.Fatalf("part headers = %v", p.Headers)
	}
	status, _, err := presigned.Put(context.Background(), p.URL, p.Headers, random(99))
	if err != nil || status != http.StatusForbidden {
		t.Fatalf("short PUT: %d %v, want 403", status, err)
	}
	r := c.do("POST", "/v1/sessions/"+s["id"].(string)+"/complete", nil)
	if r.Status != 409 || r.JSON()["code"] != "parts_missing" {
		t.Fatalf("complete: %s", r)
	}
}

// TestEmptyFile: an empty file has no parts, so nothing can be uploaded
// to it (S3 cannot sign a Content-Length of 0: a part URL would take up to
// 5 GiB). Its status call completes it, once; a checksum must be the CRC
// of nothing.
func TestEmptyFile(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	r := c.do("POST", "/v1/sessions", map[string]any{"file_name": "empty.txt", "file_size": 0,
		"checksum": map[string]any{"algorithm": "CRC32C", "value": "AAAAAQ=="}})
	if r.Status != 400 || r.JSON()["field"] != "checksum.value" {
		t.Fatalf("an empty file with a non-zero CRC: %s", r)
	}
	s := c.open("empty.txt", 0, map[string]any{"checksum": map[string]any{"algorithm": "CRC32C", "value": "AAAAAA=="}})
	id := s["id"].(string)
	if s["part_count"].(float64) != 0 || len(partsOf(s)) != 0 {
		t.Fatalf("empty session = %v", s)
	}
	r = c.do("POST", "/v1/sessions/"+id+"/parts", map[string]any{"part_numbers": []int{1}})
	if r.Status != 409 || r.JSON()["code"] != "no_parts" {
		t.Fatalf("part URLs of an empty file: %s", r)
	}
	st := c.expect(200, "GET", "/v1/sessions/"+id, nil)
	if st["session"].(map[string]any)["status"] != "completed" || st["file"] == nil || len(st["missing_parts"].([]any)) != 0 {
		t.Fatalf("status = %v", st)
	}
	f := c.expect(200, "POST", "/v1/sessions/"+id+"/complete", nil)
	if f["uuid"] != s["file_uuid"] || f["size"].(float64) != 0 {
		t.Fatalf("complete = %v", f)
	}
	if got, _ := c.download(f["uuid"].(string), ""); len(got) != 0 {
		t.Fatalf("downloaded %d bytes", len(got))
	}
	if _, nfiles, versions := usage(t, e, c.account); nfiles != 1 || versions != 1 {
		t.Fatalf("%d files %d versions", nfiles, versions)
	}
	if n := e.versions(t, files.ObjectKey(c.account, f["uuid"].(string), f["version_uuid"].(string))); n != 1 {
		t.Fatalf("%d S3 versions", n)
	}
}

// TestPartURLsFromCache: a process presigns part URLs of an open session it
// has read without asking AWS again. A session completed or aborted by
// another process stays cached for at most a minute; the URLs signed
// meanwhile are refused by S3. In local mode, as in Lambda, every function
// is its own process; Uppy's companion aborts in the signing process, which
// forgets at once.
func TestPartURLsFromCache(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	ctx := context.Background()
	id := c.open("cached.bin", 10, nil)["id"].(string) // small: S3 answers before the body is sent
	sessionReads := func(numbers ...int) int {
		t.Helper()
		e.probe.Reset()
		if got := len(c.partURLs(id, numbers...)); got != len(numbers) {
			t.Fatalf("%d URLs for %d parts", got, len(numbers))
		}
		n := len(e.probe.Calls()) - 1 // the authorizer reads the token
		return n
	}
	if n := sessionReads(1); n != 1 {
		t.Fatalf("first Parts call: %d AWS requests besides the token, want 1 (%v)", n, e.probe.Calls())
	}
	if n := sessionReads(1); n != 0 {
		t.Fatalf("warm Parts call: %d AWS requests besides the token, want 0 (%v)", n, e.probe.Calls())
	}

	// another function (sessions-complete, another process in AWS) aborts
	// it: S3 refuses what this one still signs from its cache
	c.expect(204, "DELETE", "/v1/sessions/"+id, nil)
	p := c.partURLs(id, 1)[0]
	status, body, err := presigned.Put(ctx, p.URL, p.Headers, random(int(p.Size)))
	if err != nil || status != http.StatusNotFound { // NoSuchUpload
		t.Fatalf("PUT to an aborted upload: %d %s %v, want 404 NoSuchUpload", status, body, err)
	}
	e.clock.Advance(61 * time.Second)
	if r := c.do("POST", "/v1/sessions/"+id+"/parts", map[string]any{"part_numbers": []int{1}}); r.Status != 409 || r.JSON()["code"] != "session_aborted" {
		t.Fatalf("parts after the cache expired: %s", r)
	}

	// Uppy's companion signs and aborts in one process: forgotten at once
	u := c.ticket(0)
	var created struct{ UploadID, Key string }
	u.json(200, "POST", "/multipart", map[string]any{"filename": "x.bin", "metadata": map[string]any{"size": 20 * MiB}}, &created)
	q := "?" + url.Values{"key": {created.Key}}.Encode()
	u.json(200, "GET", "/multipart/"+created.UploadID+"/1"+q, nil, nil)
	u.json(200, "DELETE", "/multipart/"+created.UploadID+q, nil, nil)
	if status, b := u.call("GET", "/multipart/"+created.UploadID+"/1"+q, nil); status != 409 {
		t.Fatalf("companion signed a part after its abort: %d %s", status, b)
	}
}

// TestSweeperSettlesSessions: a client that dies after its last part and
// never asks again still gets its file. The sweeper's pass completes every
// open session whose parts are all in (a new file, a new version, an empty
// file), looks again later at those that are not (a part missing, a form
// upload never posted), and drops expired sessions from its index.
func TestSweeperSettlesSessions(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	ctx := context.Background()
	data := random(9 * MiB)
	existing := c.upload("v.bin", []byte("v1"), nil)
	done := c.open("done.bin", len(data), nil)
	c.putParts(data, 8*MiB, partsOf(done))
	version := c.open("v.bin", 2, map[string]any{"file_uuid": existing["uuid"]})
	c.putParts([]byte("v2"), 8*MiB, partsOf(version))
	empty := c.open("empty.txt", 0, nil)
	partial := c.open("partial.bin", len(data), nil)
	c.putParts(data, 8*MiB, partsOf(partial)[:1])
	_, fields := c.ticket(0).params("form.bin", 10)
	form := strings.Split(fields["key"], "/")[2]

	sweep := app.Sweeper(e.srv.Function(lambdas.Sweeper))
	run := func() {
		t.Helper()
		if err := sweep(ctx, events.EventBridgeEvent{ID: "settle"}); err != nil {
			t.Fatal(err)
		}
	}
	statuses := func() string {
		t.Helper()
		var out []string
		for _, id := range []string{done["id"].(string), version["id"].(string), empty["id"].(string), partial["id"].(string), form} {
			s, err := e.srv.Deps.Store().GetSession(ctx, c.account, id)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(s.Status))
		}
		return strings.Join(out, " ")
	}
	due := func(at time.Time) int {
		t.Helper()
		ss, err := e.srv.Deps.Store().DueSessions(ctx, at, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(ss)
	}

	run() // too early: a client that means to complete has not had the time
	if got := statuses(); got != "open open open open open" {
		t.Fatalf("before SettleAfter: %s", got)
	}
	e.clock.Advance(upload.SettleAfter)
	run()
	if got := statuses(); got != "completed completed completed open open" {
		t.Fatalf("after the sweep: %s", got)
	}
	if n := due(e.clock.Now().Add(upload.SettleEvery - time.Second)); n != 0 {
		t.Fatalf("%d sessions due again before SettleEvery", n)
	}
	if n := due(e.clock.Now().Add(upload.SettleEvery)); n != 2 {
		t.Fatalf("%d sessions due after SettleEvery, want the two still open", n)
	}
	if got, _ := c.download(done["file_uuid"].(string), ""); !bytes.Equal(got, data) {
		t.Fatal("the settled upload's bytes differ")
	}
	if got, _ := c.download(existing["uuid"].(string), ""); string(got) != "v2" {
		t.Fatalf("the settled new version reads %q", got)
	}
	if used, nfiles, versions := usage(t, e, c.account); used != int64(len(data))+4 || nfiles != 3 || versions != 4 {
		t.Fatalf("usage %d bytes %d files %d versions", used, nfiles, versions)
	}
	e.clock.Advance(upload.MaxSessionTTL)
	run()
	if n := due(e.clock.Now().Add(1000 * time.Hour)); n != 0 {
		t.Fatalf("%d expired sessions still in the index", n)
	}
}

// TestSweeperAuditsFormUploads: form-upload objects the recorder never
// heard of (its events lost) are still accounted for. The sweeper records
// a posted form upload nobody recorded, deletes the versions its file does
// not record, and deletes whatever was posted to an aborted session.
func TestSweeperAuditsFormUploads(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	ctx := context.Background()
	p, _, err := e.srv.Deps.Auth().Authenticate(ctx, "Bearer "+c.token)
	if err != nil {
		t.Fatal(err)
	}
	open := func() upload.Session { // signed here, so local mode's S3 events never report it
		t.Helper()
		o, err := e.srv.Deps.Uploads().Open(ctx, p, upload.OpenInput{FileName: "lost.txt", FileSize: 5, Post: true})
		if err != nil {
			t.Fatal(err)
		}
		return o.Session
	}
	post := func(key, body string) { // as S3 stores a POST
		t.Helper()
		if _, err := e.srv.Deps.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: &e.srv.Deps.Cfg.Bucket, Key: &key, Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	posted, aborted := open(), open()
	post(posted.Key, "first")
	post(posted.Key, "again")
	c.expect(204, "DELETE", "/v1/sessions/"+aborted.ID, nil)
	post(aborted.Key, "stray")

	e.clock.Advance(upload.SettleAfter)
	if err := app.Sweeper(e.srv.Function(lambdas.Sweeper))(ctx, events.EventBridgeEvent{ID: "audit"}); err != nil {
		t.Fatal(err)
	}
	if n := e.versions(t, posted.Key); n != 1 {
		t.Fatalf("%d versions of the recorded form upload, want 1", n)
	}
	if n := e.versions(t, aborted.Key); n != 0 {
		t.Fatalf("%d versions posted to the aborted session survive", n)
	}
	if got, _ := c.download(posted.FileUUID, ""); string(got) != "again" {
		t.Fatalf("the file reads %q, want the current version", got)
	}
	if used, nfiles, _ := usage(t, e, c.account); used != 5 || nfiles != 1 {
		t.Fatalf("usage %d bytes %d files", used, nfiles)
	}
	if due, err := e.srv.Deps.Store().DueSessions(ctx, e.clock.Now().Add(1000*time.Hour), 10); err != nil || len(due) != 0 {
		t.Fatalf("%d sessions left in the index (%v)", len(due), err)
	}
}
