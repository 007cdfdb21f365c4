package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/batches"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/testing/sdkprobe"
	"github.com/anexo/anexo/shared/testing/testenv"
)

const batchPath = "/integrations/external/files/batches"

// formFile is one part of a batch request.
type formFile struct {
	field, name, contentType string
	data                     []byte
}

// multipartBody builds a multipart/form-data body with mime/multipart.
func multipartBody(t testing.TB, fields [][2]string, fs []formFile) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range fs {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, f.field, f.name))
		if f.contentType != "" {
			h.Set("Content-Type", f.contentType)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = pw.Write(f.data)
	}
	_ = w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

// post sends a raw body with a content type and optional headers.
func (c *client) post(path, contentType string, body []byte, headers ...string) response {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+c.token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// The seed's 201 response (wegly-files-batches.txt), field by field.
var (
	weglyPerson = map[string]any{"id": "string", "name": "string", "avatar": "string"}
	weglyRef    = map[string]any{"id": "string", "title": "string"}
	weglyFile   = map[string]any{"id": "string", "created_by": weglyPerson, "file_url": "string", "file_name": "string",
		"mime_type": "string", "size": "integer", "created_at": "string"}
)

func weglyShape(lead bool, title, note string) map[string]any {
	m := map[string]any{"id": "string", "source": "integer", "title": title, "note": note, "files_count": "integer",
		"total_size": "integer", "created_by": weglyPerson, "crm_lead": "null", "crm_deal": "null", "crm_delivery": "null",
		"files": []any{weglyFile}, "created_at": "string", "updated_at": "string"}
	if lead {
		m["crm_lead"] = weglyRef
	} else {
		m["crm_deal"] = weglyRef
	}
	return m
}

func TestWeglyBatch(t *testing.T) {
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		lead := uuid.NewString()
		c.expect(201, "PUT", "/v1/entities/lead/"+lead, map[string]any{"title": "Acme Ltda", "code": 310})
		c.expect(201, "PUT", "/v1/entities/deal/42", map[string]any{"title": "Contrato 2027"})
		a, b2, b3 := random(1500), random(70_000), []byte("olá\n")
		ct, body := multipartBody(t, [][2]string{{"crm_lead_id", lead}, {"title", "Documentos do cliente"}, {"note", "Enviado pelo portal\nlinha 2"}},
			[]formFile{{"files", "contrato assinado.pdf", "application/pdf", a}, {"files", "foto 1.jpg", "image/jpeg", b2}, {"file", "leia-me.txt", "", b3}})
		r := c.post(batchPath, ct, body)
		if r.Status != 201 {
			t.Fatalf("create: %s", r)
		}
		m := r.JSON()
		checkShape(t, "batch", m, weglyShape(true, "string", "string"))
		if m["source"] != 1.0 || m["files_count"] != 3.0 || m["total_size"] != float64(len(a)+len(b2)+len(b3)) ||
			m["title"] != "Documentos do cliente" || m["note"] != "Enviado pelo portal\nlinha 2" {
			t.Fatal(m)
		}
		if l := m["crm_lead"].(map[string]any); l["id"] != lead || l["title"] != "Acme Ltda" {
			t.Fatal(l)
		}
		if by := m["created_by"].(map[string]any); by["name"] != "Integração CRM" || uuid.Validate(by["id"].(string)) != nil {
			t.Fatal(by)
		}
		fs := m["files"].([]any)
		want := [][]byte{a, b2, b3}
		var uuids []string
		for i, x := range fs {
			f := x.(map[string]any)
			uuids = append(uuids, f["id"].(string))
			if f["size"] != float64(len(want[i])) {
				t.Fatal(f)
			}
			u := f["file_url"].(string)
			if !strings.HasPrefix(u, c.base+"/v1/files/") {
				t.Fatalf("file_url %s", u)
			}
			got, _ := c.download(f["id"].(string), "")
			if !bytes.Equal(got, want[i]) {
				t.Fatalf("file %d: bytes differ", i)
			}
		}
		if fs[0].(map[string]any)["mime_type"] != "application/pdf" || fs[2].(map[string]any)["mime_type"] != "text/plain" || fs[1].(map[string]any)["file_name"] != "foto 1.jpg" {
			t.Fatal(fs)
		}
		// the GET of the batch answers the same document
		got := c.expect(200, "GET", batchPath+"/"+m["id"].(string), nil)
		if fmt.Sprint(got) != fmt.Sprint(m) {
			t.Fatalf("GET differs:\n%v\n%v", got, m)
		}
		// the files are in the catalogue (source wegly) and on the lead's Media tab
		if ids, _ := c.walk("filter[source]=wegly&order[created_at]=asc"); len(ids) != 3 {
			t.Fatal(ids)
		}
		if ids, _ := c.mediaTab("/v1/entities/lead/310/files", ""); len(ids) != 3 || !slices.Contains(ids, uuids[0]) {
			t.Fatal(ids)
		}
		used, nfiles, versions := usage(t, e, c.account)
		if used != int64(len(a)+len(b2)+len(b3)) || nfiles != 3 || versions != 3 {
			t.Fatal(used, nfiles, versions)
		}
		// a deal by code; files.items; title and note absent are null
		ct, body = multipartBody(t, [][2]string{{"deal_code", "42"}}, []formFile{{"files.items", "a.csv", "text/csv", []byte("a,b\n")}})
		m = c.post(batchPath, ct, body).JSON()
		checkShape(t, "batch", m, weglyShape(false, "null", "null"))
		if m["crm_deal"].(map[string]any)["title"] != "Contrato 2027" {
			t.Fatal(m)
		}
		// numeric ids work with ONLYOFFICE-style clients too: every file got one
		f, _ := e.srv.Deps.Store().GetFile(context.Background(), c.account, m["files"].([]any)[0].(map[string]any)["id"].(string))
		if f.ID < 4 || f.Source != batches.SourceWegly {
			t.Fatalf("%+v", f)
		}
		// another account cannot read the batch
		o := e.account(0, "")
		problemField(t, o.do("GET", batchPath+"/"+m["id"].(string), nil), 404, "")
	})
}

// TestWeglyBatchWithCurl posts the seed's curl command.
func TestWeglyBatchWithCurl(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("curl is required in CI")
		}
		t.Skip("curl not installed")
	}
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	deal := uuid.NewString()
	c.expect(201, "PUT", "/v1/entities/deal/"+deal, map[string]any{"title": "Negócio"})
	dir := t.TempDir()
	one, two := filepath.Join(dir, "example-file"), filepath.Join(dir, "relatório final.pdf")
	_ = os.WriteFile(one, random(3000), 0o600)
	_ = os.WriteFile(two, random(5000), 0o600)
	out, err := exec.Command("curl", "-sS", "--request", "POST", "--url", c.base+batchPath,
		"--header", "Authorization: Bearer "+c.token, "--header", "Content-Type: multipart/form-data",
		"--form", "crm_deal_id="+deal, "--form", "title=Lote via curl", "--form", "note=nota",
		"--form", "files=@"+one, "--form", "files=@"+two+";type=application/pdf").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v %s", err, out)
	}
	r := response{Status: 201, Body: out}
	m := r.JSON()
	if m == nil || m["files_count"] != 2.0 || m["crm_deal"].(map[string]any)["id"] != deal {
		t.Fatalf("curl answer: %s", out)
	}
	checkShape(t, "batch", m, weglyShape(false, "string", "string"))
	if n := m["files"].([]any)[1].(map[string]any)["file_name"]; n != "relatório final.pdf" {
		t.Fatalf("name: %v", n)
	}
}

func TestWeglyBatchValidation(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	lead := uuid.NewString()
	c.expect(201, "PUT", "/v1/entities/lead/"+lead, map[string]any{"code": 5})
	file := []formFile{{"files", "a.pdf", "application/pdf", []byte("%PDF")}}
	type tc struct {
		name   string
		fields [][2]string
		files  []formFile
		status int
		field  string
	}
	many := make([]formFile, batches.MaxFiles+1)
	for i := range many {
		many[i] = formFile{"files", fmt.Sprintf("f%d.txt", i), "", []byte("x")}
	}
	for _, x := range []tc{
		{"no target", nil, file, 400, "crm_lead_id"},
		{"two targets", [][2]string{{"crm_lead_id", lead}, {"lead_code", "5"}}, file, 400, "lead_code"},
		{"bad uuid", [][2]string{{"crm_lead_id", "5"}}, file, 400, "crm_lead_id"},
		{"bad code", [][2]string{{"lead_code", "abc"}}, file, 400, "lead_code"},
		{"unknown lead", [][2]string{{"crm_lead_id", uuid.NewString()}}, file, 404, "crm_lead_id"},
		{"unknown deal code", [][2]string{{"deal_code", "5"}}, file, 404, "deal_code"},
		{"long title", [][2]string{{"lead_code", "5"}, {"title", strings.Repeat("t", 151)}}, file, 400, "title"},
		{"title with control", [][2]string{{"lead_code", "5"}, {"title", "a\x07"}}, file, 400, "title"},
		{"no files", [][2]string{{"lead_code", "5"}}, nil, 400, "files"},
		{"too many files", [][2]string{{"lead_code", "5"}}, many, 400, "files"},
		{"text in a file field", [][2]string{{"lead_code", "5"}, {"files", "<string>"}}, file, 400, "files"},
		{"file in a text field", [][2]string{{"lead_code", "5"}}, []formFile{{"title", "t.txt", "", []byte("x")}}, 400, "title"},
		{"unknown field", [][2]string{{"lead_code", "5"}, {"crm_delivery_id", "1"}}, file, 400, "crm_delivery_id"},
		{"title twice", [][2]string{{"lead_code", "5"}, {"title", "a"}, {"title", "b"}}, file, 400, "title"},
		{"bad file name", [][2]string{{"lead_code", "5"}}, []formFile{{"files", strings.Repeat("n", 300) + ".pdf", "", []byte("x")}}, 400, "files[0].filename"},
		{"control in file name", [][2]string{{"lead_code", "5"}}, []formFile{{"files", "a\x01b.pdf", "", []byte("x")}}, 400, "body"},
		{"bad part type", [][2]string{{"lead_code", "5"}}, []formFile{{"file", "a.pdf", "not a type", []byte("x")}}, 400, "file[0].content_type"},
	} {
		ct, body := multipartBody(t, x.fields, x.files)
		r := c.post(batchPath, ct, body)
		if r.Status != x.status || r.JSON()["field"] != x.field {
			t.Fatalf("%s: %s, want %d naming %s", x.name, r, x.status, x.field)
		}
	}
	ct, body := multipartBody(t, [][2]string{{"lead_code", "5"}}, file)
	for _, x := range []struct {
		name, ct string
		body     []byte
		field    string
	}{
		{"json", "application/json", []byte(`{"lead_code":"5"}`), "Content-Type"},
		{"no boundary", "multipart/form-data", body, "Content-Type"},
		{"truncated", ct, body[:len(body)-20], "body"},
		{"wrong boundary", "multipart/form-data; boundary=nope", body, "crm_lead_id"},
	} {
		r := c.post(batchPath, x.ct, x.body)
		if r.Status != 400 || r.JSON()["field"] != x.field {
			t.Fatalf("%s: %s", x.name, r)
		}
	}
	// over the payload limit: 413 pointing to sessions
	ct, body = multipartBody(t, [][2]string{{"lead_code", "5"}}, []formFile{{"files", "big.bin", "", random(batches.MaxBody)}})
	r := c.post(batchPath, ct, body)
	if r.Status != 413 || r.JSON()["sessions"] != "/v1/sessions" || !strings.Contains(r.JSON()["detail"].(string), "POST /v1/sessions") {
		t.Fatalf("over-size: %s", r)
	}
	// scopes
	ro := e.account(0, "", "files:read")
	ct, body = multipartBody(t, [][2]string{{"lead_code", "5"}}, file)
	if r := ro.post(batchPath, ct, body); r.Status != 403 {
		t.Fatal(r)
	}
	// quota: the batch as a whole
	q := e.account(100, "")
	q.expect(201, "PUT", "/v1/entities/lead/9", map[string]any{})
	ct, body = multipartBody(t, [][2]string{{"lead_code", "9"}}, []formFile{{"files", "a.bin", "", random(60)}, {"files", "b.bin", "", random(60)}})
	if r := q.post(batchPath, ct, body); r.Status != 507 {
		t.Fatal(r)
	}
	// nothing of any refused request was written
	for _, acct := range []string{c.account, q.account} {
		if used, nfiles, _ := usage(t, e, acct); used != 0 || nfiles != 0 {
			t.Fatalf("refused batches left %d bytes, %d files", used, nfiles)
		}
	}
	if objs := e.objects(t, c.account); len(objs) != 0 {
		t.Fatalf("refused batches left objects: %v", objs)
	}
}

// objects lists every object version and delete marker under an
// account's prefix.
func (e *env) objects(t *testing.T, account string) []string {
	t.Helper()
	out, err := e.srv.Deps.S3().ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{
		Bucket: aws.String(e.srv.Deps.Cfg.Bucket), Prefix: aws.String(account + "/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, v := range out.Versions {
		keys = append(keys, aws.ToString(v.Key))
	}
	for _, m := range out.DeleteMarkers {
		keys = append(keys, "marker:"+aws.ToString(m.Key))
	}
	return keys
}

// TestWeglyBatchCrashSafety fails each AWS call of a batch in turn (before
// AWS and after it applied the call), then retries with the same
// Idempotency-Key: one batch, exact counters, intact bytes, no orphans.
func TestWeglyBatchCrashSafety(t *testing.T) {
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		c.expect(201, "PUT", "/v1/entities/lead/77", map[string]any{})
		d1, d2 := random(2000), random(3000)
		ct, body := multipartBody(t, [][2]string{{"lead_code", "77"}}, []formFile{{"files", "a.bin", "", d1}, {"files", "b.bin", "", d2}})
		e.probe.Reset()
		if r := c.post(batchPath, ct, body, "Idempotency-Key", "clean"); r.Status != 201 {
			t.Fatal(r)
		}
		calls := e.probe.Calls()
		t.Logf("a batch of 2 files makes %v", calls)
		batchesMade := int64(1)
		for _, fp := range faultPoints(calls) {
			t.Run(faultName(fp), func(t *testing.T) {
				key := uuid.NewString()
				e.probe.Arm(fp)
				r := c.post(batchPath, ct, body, "Idempotency-Key", key)
				e.probe.Disarm()
				if r.Status != 500 && r.Status != 201 && r.Status != 401 {
					t.Fatalf("faulted batch: %s", r)
				}
				first := c.post(batchPath, ct, body, "Idempotency-Key", key)
				again := c.post(batchPath, ct, body, "Idempotency-Key", key)
				if first.Status != 201 || again.Status != 201 || first.JSON()["id"] != again.JSON()["id"] {
					t.Fatalf("retries: %s / %s", first, again)
				}
				batchesMade++
				used, nfiles, versions := usage(t, e, c.account)
				if nfiles != 2*batchesMade || versions != nfiles || used != batchesMade*int64(len(d1)+len(d2)) {
					t.Fatalf("usage = %d bytes %d files %d versions after %d batches", used, nfiles, versions, batchesMade)
				}
				if objs := e.objects(t, c.account); int64(len(objs)) != nfiles {
					t.Fatalf("%d object versions for %d files: a retry left orphans", len(objs), nfiles)
				}
				if n := e.outbox(t, c.account); int64(n[outbox.BatchCreated]) != batchesMade || int64(n[outbox.FileCreated]) != nfiles || int64(n[outbox.FileAttached]) != nfiles {
					t.Fatalf("events %v after %d batches", n, batchesMade)
				}
				fs := first.JSON()["files"].([]any)
				for i, want := range [][]byte{d1, d2} {
					got, _ := c.download(fs[i].(map[string]any)["id"].(string), "")
					if !bytes.Equal(got, want) {
						t.Fatal("bytes differ")
					}
				}
			})
		}
		// a reused key with another body is refused
		ct2, body2 := multipartBody(t, [][2]string{{"lead_code", "77"}}, []formFile{{"files", "c.bin", "", d1}})
		if r := c.post(batchPath, ct2, body2, "Idempotency-Key", "clean"); r.Status != 422 || r.JSON()["field"] != "Idempotency-Key" {
			t.Fatal(r)
		}
	})
}

// TestWeglyBatchSweep: a batch that crashed before its commit (no key to
// retry with) is never listed, and the sweeper erases its bytes after the
// batch window.
func TestWeglyBatchSweep(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	c.expect(201, "PUT", "/v1/entities/lead/1", map[string]any{})
	ct, body := multipartBody(t, [][2]string{{"lead_code", "1"}}, []formFile{{"files", "a.bin", "", random(100)}})
	e.probe.Arm(sdkprobe.Fault{Op: "DynamoDB.TransactWriteItems"})
	if r := c.post(batchPath, ct, body); r.Status != 500 {
		t.Fatal(r)
	}
	e.probe.Disarm()
	if len(e.objects(t, c.account)) != 1 {
		t.Fatal("the crashed batch's object is missing")
	}
	if ids, _ := c.walk(""); len(ids) != 0 {
		t.Fatal("an uncommitted batch is listed")
	}
	ctx := context.Background()
	if n, err := e.srv.Function(lambdas.Sweeper).Batches().Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("swept inside the window: %d %v", n, err)
	}
	e.clock.Advance(batches.Window + 2*time.Minute)
	if n, err := e.srv.Function(lambdas.Sweeper).Batches().Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if objs := e.objects(t, c.account); len(objs) != 0 {
		t.Fatalf("bytes left: %v", objs)
	}
	if n, err := e.srv.Function(lambdas.Sweeper).Batches().Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("second sweep: %d %v", n, err)
	}
}

// TestWeglyBatchQuotaRace: a batch that fit the quota when it started, but
// not when it commits (another upload landed meanwhile), is refused whole:
// its bytes and its pending record are removed at once, usage stays exact.
func TestWeglyBatchQuotaRace(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(10_000, "")
	c.expect(201, "PUT", "/v1/entities/lead/1", map[string]any{})
	ct, body := multipartBody(t, [][2]string{{"lead_code", "1"}}, []formFile{
		{"files", "a.bin", "", random(3_000)}, {"files", "b.bin", "", random(3_000)}})
	e.probe.Arm(sdkprobe.Fault{Op: "S3.PutObject", Run: func() { c.upload("meanwhile.bin", random(5_000), nil) }})
	if r := c.post(batchPath, ct, body); r.Status != 507 || r.JSON()["code"] != "quota_exceeded" {
		t.Fatalf("batch past the quota: %s", r)
	}
	if used, nfiles, _ := usage(t, e, c.account); used != 5_000 || nfiles != 1 {
		t.Fatalf("usage %d bytes %d files", used, nfiles)
	}
	if objs := e.objects(t, c.account); len(objs) != 1 {
		t.Fatalf("objects left: %v", objs)
	}
	e.clock.Advance(batches.Window + 2*time.Minute)
	if n, err := e.srv.Function(lambdas.Sweeper).Batches().Sweep(context.Background()); err != nil || n != 0 {
		t.Fatalf("the refused batch left a pending record for the sweeper: %d %v", n, err)
	}
}
