package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/keyring"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/relay"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/testing/norace"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// kommoPart posts one part's bytes to an upload URL, as a Kommo client does.
func (c *client) kommoPart(url string, data []byte) response {
	c.t.Helper()
	return c.post(strings.TrimPrefix(url, c.base), "application/octet-stream", data)
}

// kommoUpload sends data in parts of n bytes from a session's upload_url
// and returns the file the last part answers.
func (c *client) kommoUpload(t testing.TB, open map[string]any, data []byte, n int) map[string]any {
	t.Helper()
	url := open["upload_url"].(string)
	for off := 0; ; off += n {
		end := min(off+n, len(data))
		r := c.kommoPart(url, data[off:end])
		if r.Status != 200 {
			t.Fatalf("part at %d: %s", off, r)
		}
		m := r.JSON()
		if end == len(data) {
			return m
		}
		url = m["next_url"].(string)
	}
}

// TestKommoFilesAPI drives Kommo's Files API as a Kommo integration does,
// from the examples of Kommo's reference: open a session, every part by
// next_url, a part sent twice after a lost answer, one out of order, the
// file the last part answers, a one-byte file, a new version by
// file_uuid, the list with Kommo's filters, delete and restore, versions,
// and attach, list and detach on a lead. Every answer is checked against
// the OpenAPI document's Kommo schemas (written from Kommo's reference).
func TestKommoFilesAPI(t *testing.T) {
	norace.Run(t)
	t.Parallel()
	testenv.On(t, []string{"embedded"}, func(t *testing.T, be testenv.Backend) { // TestKommoAnyPartSizes: memory
		e := start(t, be)
		c := e.account(0, "", "files:read", "files:write", "files:delete")
		data := random(20*MiB + 123)
		// The relay keyring's key is an hour from due: the session opens
		// with it, and the parts, two hours later, make the next one.
		now := e.clock.Now()
		due := keyring.Key{ID: keyring.IDAt(now.Add(-2 * keyring.RotateEvery).Truncate(keyring.RotateEvery)), Secret: random(32),
			CreatedAt: now.Add(-keyring.RotateEvery + time.Hour), VerifyUntil: now.Add(2 * 24 * time.Hour)}
		if err := e.srv.Deps.Keys().PutKey(context.Background(), app.RelayKeys, due); err != nil {
			t.Fatal(err)
		}
		open := c.expect(200, "POST", "/v1.0/sessions", map[string]any{"file_name": "contrato.pdf", "file_size": len(data), "with_preview": true})
		if open["max_part_size"].(float64) != relay.MaxPart || !strings.HasPrefix(open["upload_url"].(string), c.base+"/v1.0/sessions/upload/") {
			t.Fatalf("open = %v", open)
		}
		e.clock.Advance(2 * time.Hour)
		const kommoPart = 512 << 10 // the part size Kommo's reference shows
		url := open["upload_url"].(string)
		var file map[string]any
		for i, off := 0, 0; file == nil; i, off = i+1, off+kommoPart {
			end := min(off+kommoPart, len(data))
			r := c.kommoPart(url, data[off:end])
			if r.Status != 200 {
				t.Fatalf("part %d: %s", i, r)
			}
			switch i {
			case 9, 16: // the answer was lost: the same part again answers the same
				again := c.kommoPart(url, data[off:end])
				if again.Status != 200 || again.JSON()["session_id"] != r.JSON()["session_id"] {
					t.Fatalf("part %d again: %s", i, again)
				}
			case 20: // an old URL: refused with where to go on from
				old := c.kommoPart(open["upload_url"].(string), data[:kommoPart])
				if p := old.JSON(); old.Status != 409 || p["code"] != "part_out_of_order" || p["expected_offset"].(float64) != float64(end) {
					t.Fatalf("an old part: %s", old)
				}
				url = old.JSON()["next_url"].(string)
				continue
			}
			m := r.JSON()
			if end == len(data) {
				file = m
				break
			}
			url = m["next_url"].(string)
		}
		if file["name"] != "contrato.pdf" || file["size"].(float64) != float64(len(data)) || file["has_multiple_versions"] != false || file["type"] != "document" {
			t.Fatalf("file = %v", file)
		}
		uuid := file["uuid"].(string)
		if got, _ := c.download(uuid, ""); sum(got) != sum(data) {
			t.Fatal("the downloaded bytes differ from the uploaded")
		}
		// the last part again: the session closed itself, the same file
		if again := c.kommoPart(url, data[len(data)/kommoPart*kommoPart:]); again.Status != 200 || again.JSON()["uuid"] != uuid {
			t.Fatalf("the last part again: %s", again)
		}
		// a part over max_part_size, a part past file_size
		big := c.expect(200, "POST", "/v1.0/sessions", map[string]any{"file_name": "big.bin", "file_size": relay.MaxPart + 10})
		problemField(t, c.kommoPart(big["upload_url"].(string), make([]byte, relay.MaxPart+1)), 413, "body")
		one := c.expect(200, "POST", "/v1.0/sessions", map[string]any{"file_name": "one.txt", "file_size": 1})
		problemField(t, c.kommoPart(one["upload_url"].(string), []byte("ab")), 400, "body")
		if f := c.kommoUpload(t, one, []byte("a"), 1); f["size"].(float64) != 1 || f["name"] != "one.txt" {
			t.Fatalf("one byte: %v", f)
		}
		// a new version by file_uuid, in parts of the largest size
		v2 := random(relay.MaxPart*3 + 7)
		nv := c.expect(200, "POST", "/v1.0/sessions", map[string]any{"file_name": "contrato-v2.pdf", "file_size": len(v2), "file_uuid": uuid})
		if f := c.kommoUpload(t, nv, v2, relay.MaxPart); f["uuid"] != uuid || f["has_multiple_versions"] != true {
			t.Fatalf("new version: %v", f)
		}
		if got, _ := c.download(uuid, ""); sum(got) != sum(v2) {
			t.Fatal("the new version's bytes differ")
		}
		vs := c.expect(200, "GET", "/v1.0/files/"+uuid+"/versions", nil)
		if vs["_count"].(float64) != 2 {
			t.Fatalf("versions = %v", vs)
		}
		// Kommo's filters: extension, size in KiB units, authors
		list := func(q string) []any {
			return c.expect(200, "GET", "/v1.0/files?"+q, nil)["_embedded"].(map[string]any)["files"].([]any)
		}
		if got := list("filter[extensions][]=pdf&filter[size][from]=1024&filter[size][unit]=1024"); len(got) != 1 || got[0].(map[string]any)["uuid"] != uuid {
			t.Fatalf("pdf files over 1 MiB: %v", got)
		}
		if got := list("filter[created_by][]=-1"); len(got) != 0 {
			t.Fatalf("files by a client: %v", got)
		}
		if got := list("filter[created_by][]=0"); len(got) != 2 {
			t.Fatalf("files by a robot: %d", len(got))
		}
		// delete, list the trash, restore
		del := c.expect(200, "DELETE", "/v1.0/files", []map[string]any{{"uuid": uuid}})
		if f := del["_embedded"].(map[string]any)["files"].([]any); len(f) != 1 || f[0].(map[string]any)["is_trashed"] != true {
			t.Fatalf("delete = %v", del)
		}
		if got := list("filter[deleted]=true"); len(got) != 1 {
			t.Fatalf("trash: %v", got)
		}
		c.expect(200, "POST", "/v1.0/files/restore", []map[string]any{{"uuid": uuid}})
		if g := c.expect(200, "GET", "/v1.0/files/"+uuid, nil); g["is_trashed"] != false || g["deleted_at"] != nil {
			t.Fatalf("restored = %v", g)
		}
		// a lead's files
		lead := "/api/v4/leads/1852926/files"
		att := c.expect(200, "PUT", lead, []map[string]any{{"file_uuid": uuid}})
		if f := att["_embedded"].(map[string]any)["files"].([]any); len(f) != 1 || f[0].(map[string]any)["file_uuid"] != uuid {
			t.Fatalf("attach = %v", att)
		}
		got := c.expect(200, "GET", lead+"?limit=50", nil)["_embedded"].(map[string]any)["files"].([]any)
		if len(got) != 1 || got[0].(map[string]any)["id"] != file["id"] {
			t.Fatalf("lead files = %v", got)
		}
		c.expect(200, "DELETE", lead, []map[string]any{{"file_uuid": uuid}})
		if got := c.expect(200, "GET", lead, nil)["_embedded"].(map[string]any)["files"].([]any); len(got) != 0 {
			t.Fatalf("after detach: %v", got)
		}
		problemField(t, c.do("GET", "/api/v4/deals/1/files", nil), 400, "entity_type")
		t.Log(fmt.Sprintf("%d parts of %d KiB", (len(data)+kommoPart-1)/kommoPart, kommoPart>>10))
	})
}

// TestKommoPartCrashSafety fails each AWS call of a relayed part in turn,
// before it reaches AWS and after AWS applied it (the answer lost): the
// part that fills an S3 part (the staged piece read back, UploadPart, the
// rest staged) and the last part (the last S3 part and the completion).
// The client sends the same part to the same URL again, as after any
// failed request, and goes on: every file is whole, once, with one S3
// version, exact usage and one event.
func TestKommoPartCrashSafety(t *testing.T) {
	norace.Run(t)
	t.Parallel()
	e := start(t, testenv.Embedded(t), smallParts)
	c := e.account(0, "")
	const chunk = 3 * MiB
	data := random(6*MiB + 5) // S3 parts: 5 MiB and 1 MiB + 5; relayed: 0, 3 (fills part 1, stages 1 MiB), 6 (the last, 5 bytes)
	parts := func(from []byte) [][]byte {
		var out [][]byte
		for off := 0; off < len(from); off += chunk {
			out = append(out, from[off:min(off+chunk, len(from))])
		}
		return out
	}(data)
	// send opens a session and sends its parts up to (not including)
	// part stop; it returns the session's open answer and the URL of part stop.
	send := func(stop int) (string, map[string]any) {
		open := c.expect(200, "POST", "/v1.0/sessions", map[string]any{"file_name": "crash.bin", "file_size": len(data)})
		url := open["upload_url"].(string)
		for i := range stop {
			r := c.kommoPart(url, parts[i])
			if r.Status != 200 {
				t.Fatalf("part %d: %s", i, r)
			}
			url = r.JSON()["next_url"].(string)
		}
		return url, open
	}
	// the calls of a clean run of each faulted part
	points := map[int][]string{}
	for _, i := range []int{1, 2} {
		url, _ := send(i)
		e.probe.Reset()
		if r := c.kommoPart(url, parts[i]); r.Status != 200 {
			t.Fatalf("part %d: %s", i, r)
		}
		points[i] = e.probe.Calls()
		t.Logf("relayed part %d makes %v", i, points[i])
	}
	if !slices.Contains(points[1], "S3.UploadPart") || !slices.Contains(points[1], "S3.PutObject") || !slices.Contains(points[2], "S3.CompleteMultipartUpload") {
		t.Fatalf("the parts made %v", points)
	}
	want := int64(1) // the clean run of the last part made one
	for _, i := range []int{1, 2} {
		for _, fp := range faultPoints(points[i]) {
			if fp.Skip == 0 && (fp.Op == "DynamoDB.GetItem" || fp.Op == "DynamoDB.Query") {
				continue // the authorizer's and the keyring's reads, before the relay runs
			}
			t.Run(fmt.Sprintf("part%d/%s", i, faultName(fp)), func(t *testing.T) {
				url, _ := send(i)
				e.probe.Arm(fp)
				r := c.kommoPart(url, parts[i])
				e.probe.Disarm()
				if r.Status != 500 && r.Status != 200 && r.Status != 503 {
					t.Fatalf("faulted part: %s", r)
				}
				var f map[string]any
				for j := i; j < len(parts); j++ {
					r := c.kommoPart(url, parts[j])
					if r.Status != 200 {
						t.Fatalf("part %d after the fault: %s", j, r)
					}
					if j == len(parts)-1 {
						f = r.JSON()
					} else {
						url = r.JSON()["next_url"].(string)
					}
				}
				want++
				if got, _ := c.download(f["uuid"].(string), ""); sum(got) != sum(data) {
					t.Fatal("bytes differ")
				}
				used, nfiles, versions := usage(t, e, c.account)
				if nfiles != want || versions != want || used != want*int64(len(data)) {
					t.Fatalf("usage = %d bytes %d files %d versions, want %d files", used, nfiles, versions, want)
				}
				if n := e.versions(t, files.ObjectKey(c.account, f["uuid"].(string), f["version_uuid"].(string))); n != 1 {
					t.Fatalf("%d S3 versions of the object, want 1", n)
				}
				if n := e.outbox(t, c.account); n[outbox.FileCreated] != int(want) {
					t.Fatalf("events %v for %d files", n, want)
				}
			})
		}
	}
}

// BenchmarkKommoPath moves a 32 MiB file through Kommo's relayed parts (of
// Kommo's own 512 KiB and of the 4 MiB max_part_size) and through the
// presigned path (/v1/sessions, 8 MiB parts straight to S3), on the
// embedded emulators: MiB/s on this machine, and per GiB the API requests
// (each one Lambda invocation), the S3 requests by price class (A: PUT,
// LIST, multipart calls; B: GET, HEAD), DynamoDB requests, and the file
// bytes that pass through Lambda. docs/performance.md prices them.
func BenchmarkKommoPath(b *testing.B) {
	const size = 32 << 20
	for _, tc := range []struct {
		name string
		part int
	}{{"presigned", 0}, {"kommo-512KiB", 512 << 10}, {"kommo-4MiB", relay.MaxPart}} {
		b.Run(tc.name, func(b *testing.B) {
			e := start(b, testenv.Embedded(b))
			c := e.account(0, "")
			data := random(size)
			var api, s3a, s3b, ddb int
			var through int64
			var elapsed time.Duration
			for range b.N { // (b.Loop here crashes go1.26.8's compiler)
				e.probe.Reset()
				t0 := time.Now()
				if tc.part == 0 {
					c.upload("p.bin", data, nil)
					api += 2                // open (its answer carries the part URLs), complete
					s3a += size / (8 << 20) // the client's PUTs, straight to S3
				} else {
					open := c.expect(200, "POST", "/v1.0/sessions", map[string]any{"file_name": "k.bin", "file_size": size})
					c.kommoUpload(b, open, data, tc.part)
					api += 1 + (size+tc.part-1)/tc.part
					through += size
				}
				elapsed += time.Since(t0)
				for _, op := range e.probe.Calls() {
					switch {
					case op == "S3.GetObject" || op == "S3.HeadObject":
						s3b++
					case strings.HasPrefix(op, "S3."):
						s3a++
					case strings.HasPrefix(op, "DynamoDB."):
						ddb++
					}
				}
			}
			gib := float64(size) * float64(b.N) / (1 << 30)
			b.ReportMetric(float64(size)*float64(b.N)/(1<<20)/elapsed.Seconds(), "MiB/s")
			b.ReportMetric(float64(api)/gib, "api-req/GiB")
			b.ReportMetric(float64(s3a)/gib, "s3-classA/GiB")
			b.ReportMetric(float64(s3b)/gib, "s3-classB/GiB")
			b.ReportMetric(float64(ddb)/gib, "ddb-req/GiB")
			b.ReportMetric(float64(through)/gib/(1<<20), "lambda-MiB/GiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// TestKommoAnyPartSizes sends files of sizes around S3 part boundaries (an
// empty one included) in parts of random sizes up to max_part_size, some
// sent twice, on the memory drivers (5 MiB S3 parts): every file arrives
// whole.
func TestKommoAnyPartSizes(t *testing.T) {
	norace.Run(t)
	t.Parallel()
	e := start(t, testenv.Memory(), smallParts)
	c := e.account(0, "")
	rng := rand.New(rand.NewPCG(35, 1))
	for i, size := range []int{0, 1, 5<<20 - 1, 5 << 20, 5<<20 + 1, 10<<20 + 1 + rng.IntN(1<<20)} {
		data := random(size)
		open := c.expect(200, "POST", "/v1.0/sessions", map[string]any{"file_name": fmt.Sprintf("f%d.bin", i), "file_size": size})
		url, off := open["upload_url"].(string), 0
		var f map[string]any
		for f == nil {
			end := min(off+1+rng.IntN(relay.MaxPart), size)
			sends := 1 + rng.IntN(2)
			var m map[string]any
			for range sends {
				r := c.kommoPart(url, data[off:end])
				if r.Status != 200 {
					t.Fatalf("file %d, part at %d: %s", i, off, r)
				}
				m = r.JSON()
			}
			if end == size {
				f = m
			} else {
				url, off = m["next_url"].(string), end
			}
		}
		if got, _ := c.download(f["uuid"].(string), ""); sum(got) != sum(data) || f["size"].(float64) != float64(size) {
			t.Fatalf("file %d (%d bytes): %v", i, size, f)
		}
	} // a session past its 24 hours: its URLs answer 410
	open := c.expect(200, "POST", "/v1.0/sessions", map[string]any{"file_name": "late.bin", "file_size": 10})
	e.clock.Advance(25 * time.Hour)
	if r := c.kommoPart(open["upload_url"].(string), make([]byte, 10)); r.Status != 410 || r.JSON()["code"] != "session_expired" {
		t.Fatalf("an expired session's part: %s", r)
	}
	// an upload URL altered, or of another account
	other := e.account(0, "")
	open = c.expect(200, "POST", "/v1.0/sessions", map[string]any{"file_name": "mine.bin", "file_size": 10})
	for _, tc := range []struct {
		c   *client
		url string
	}{{c, open["upload_url"].(string) + "x"}, {other, open["upload_url"].(string)}} {
		if r := tc.c.kommoPart(tc.url, make([]byte, 10)); r.Status != 404 || r.JSON()["code"] != "invalid_upload_url" {
			t.Fatalf("a foreign or altered URL: %s", r)
		}
	}
}
