package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/anexo/anexo/shared/base/crc"
	"github.com/anexo/anexo/shared/domain/outbox"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/testing/norace"
	"github.com/anexo/anexo/shared/testing/sdkprobe"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// faultPoints lists each AWS call of an operation as (op, occurrence),
// failed before it reaches AWS and, for a call that changes something,
// also after AWS applied it (the answer lost). A read failed after AWS
// answered leaves what a read failed before it leaves, so it runs once.
func faultPoints(calls []string) []sdkprobe.Fault {
	seen := map[string]int{}
	var out []sdkprobe.Fault
	for _, op := range calls {
		out = append(out, sdkprobe.Fault{Op: op, Skip: seen[op]})
		if !readOnly(op) {
			out = append(out, sdkprobe.Fault{Op: op, Skip: seen[op], After: true})
		}
		seen[op]++
	}
	return out
}

// readOnly: an AWS call that changes nothing ("DynamoDB.GetItem",
// "S3.ListParts"; SQS's ReceiveMessage changes a message's visibility).
func readOnly(op string) bool {
	_, action, _ := strings.Cut(op, ".")
	for _, prefix := range []string{"Get", "BatchGet", "TransactGet", "Query", "Scan", "Head", "List", "Describe"} {
		if strings.HasPrefix(action, prefix) {
			return true
		}
	}
	return false
}

// String names a fault point in a subtest's name.
func faultName(fp sdkprobe.Fault) string {
	return fmt.Sprintf("%s#%d/after=%v", fp.Op, fp.Skip, fp.After)
}

func (e *env) versions(t *testing.T, key string) int {
	t.Helper()
	out, err := e.srv.Deps.S3().ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{
		Bucket: aws.String(e.srv.Deps.Cfg.Bucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Versions)
}

// TestCompleteCrashSafety fails each AWS call of a completion in turn, both
// before it reaches AWS and after AWS applied it (the answer lost). The
// session's status then tells the truth and, every part being in, closes
// the session itself; retries answer the same file: exactly one file, one
// S3 version, exact counters, intact bytes. The sessions whose AWS call is
// failed after AWS applied it take their whole-file CRC at completion: the
// one S3 verified is the one recorded, even when the completion that gave
// it never reached the table.
func TestCompleteCrashSafety(t *testing.T) {
	norace.Run(t)
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		data := random(9 * MiB)
		var body map[string]any
		prepare := func(checksum bool) map[string]any {
			body = nil
			if !checksum {
				s := c.open("crash.bin", len(data), nil)
				c.putParts(data, 8*MiB, partsOf(s))
				return s
			}
			s := c.open("crash.bin", len(data), map[string]any{"checksum": map[string]any{"algorithm": "CRC32C"}})
			c.putParts(data, 8*MiB, partsOf(c.expect(200, "POST", "/v1/sessions/"+s["id"].(string)+"/parts",
				map[string]any{"part_numbers": []int{1, 2}, "checksums": partSums("CRC32C", data, 8*MiB)})))
			body = map[string]any{"checksum": map[string]any{"algorithm": "CRC32C", "value": crc.Of("CRC32C", data)}}
			return s
		}
		// Record the calls of a clean completion.
		s := prepare(false)
		e.probe.Reset()
		c.expect(200, "POST", "/v1/sessions/"+s["id"].(string)+"/complete", nil)
		calls := e.probe.Calls()
		t.Logf("a completion makes %v", calls)
		if len(calls) < 4 {
			t.Fatalf("completion made %v", calls)
		}
		wantFiles := int64(1)
		for _, fp := range faultPoints(calls) {
			t.Run(faultName(fp), func(t *testing.T) {
				s := prepare(fp.After)
				id := s["id"].(string)
				e.probe.Arm(fp)
				r := c.do("POST", "/v1/sessions/"+id+"/complete", body)
				e.probe.Disarm()
				if r.Status != 500 && r.Status != 200 {
					t.Fatalf("faulted completion: %s", r)
				}
				st := c.expect(200, "GET", "/v1/sessions/"+id, nil)
				if st["session"].(map[string]any)["status"] != "completed" || st["file"] == nil || st["file"].(map[string]any)["uuid"] != s["file_uuid"] {
					t.Fatalf("status after the fault: %v", st)
				}
				f := c.expect(200, "POST", "/v1/sessions/"+id+"/complete", body)
				again := c.expect(200, "POST", "/v1/sessions/"+id+"/complete", body)
				if again["uuid"] != f["uuid"] || f["uuid"] != s["file_uuid"] {
					t.Fatalf("retries answered different files: %v / %v", f, again)
				}
				wantFiles++
				used, nfiles, versions := usage(t, e, c.account)
				if nfiles != wantFiles || versions != wantFiles || used != wantFiles*int64(len(data)) {
					t.Fatalf("usage = %d bytes %d files %d versions, want %d files", used, nfiles, versions, wantFiles)
				}
				if n := e.versions(t, files.ObjectKey(c.account, s["file_uuid"].(string), s["version_uuid"].(string))); n != 1 {
					t.Fatalf("%d S3 versions of the object, want 1", n)
				}
				// one event per file, whichever call failed: none lost, none twice
				if n := e.outbox(t, c.account); n[outbox.FileCreated] != int(wantFiles) || len(n) != 1 {
					t.Fatalf("events %v for %d files", n, wantFiles)
				}
				if got, _ := c.download(f["uuid"].(string), ""); !bytes.Equal(got, data) {
					t.Fatal("bytes differ")
				}
				// moto lists no part checksums and computes its own
				// whole-object value; S3 and versitygw list them
				if alg, v := c.recordedChecksum(t, f["uuid"].(string)); fp.After && be.Name == "embedded" && (alg != "CRC32C" || v != crc.Of("CRC32C", data)) {
					t.Fatalf("recorded checksum %s %q, want %s", alg, v, crc.Of("CRC32C", data))
				}
			})
		}
	})
}

// TestOpenAndAbortCrashSafety fails each AWS call of open and abort in turn;
// a retry always works and leaves no usable half-state.
func TestOpenAndAbortCrashSafety(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	c.expect(200, "GET", "/v1/usage", nil) // the token's first use: the authorizer records it (UpdateItem)
	body := map[string]any{"file_name": "o.bin", "file_size": 5}
	e.probe.Reset()
	c.expect(201, "POST", "/v1/sessions", body)
	openPoints := faultPoints(e.probe.Calls())
	for _, fp := range openPoints {
		e.probe.Arm(fp)
		r := c.do("POST", "/v1/sessions", body)
		e.probe.Disarm()
		if r.Status != 500 {
			t.Fatalf("open with %+v: %s", fp, r)
		}
		f := c.upload("o.bin", random(5), nil)
		if f["size"].(float64) != 5 {
			t.Fatalf("upload after a failed open: %v", f)
		}
	}
	s := c.open("a.bin", 5, nil)
	e.probe.Reset()
	c.expect(204, "DELETE", "/v1/sessions/"+s["id"].(string), nil)
	abortCalls := e.probe.Calls()
	for _, fp := range faultPoints(abortCalls) {
		s := c.open("a.bin", 5, nil)
		id := s["id"].(string)
		c.putParts(random(5), 8*MiB, partsOf(s))
		e.probe.Arm(fp)
		r := c.do("DELETE", "/v1/sessions/"+id, nil)
		e.probe.Disarm()
		if r.Status != 500 && r.Status != 204 {
			t.Fatalf("faulted abort: %s", r)
		}
		c.expect(204, "DELETE", "/v1/sessions/"+id, nil)
		st := c.expect(200, "GET", "/v1/sessions/"+id, nil)
		if st["session"].(map[string]any)["status"] != "aborted" || len(st["uploaded_parts"].([]any)) != 0 {
			t.Fatalf("after retried abort: %v", st)
		}
		key := files.ObjectKey(c.account, s["file_uuid"].(string), s["version_uuid"].(string))
		out, err := e.srv.Deps.S3().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
			Bucket: aws.String(e.srv.Deps.Cfg.Bucket), Prefix: aws.String(key)})
		if err != nil || len(out.Uploads) != 0 {
			t.Fatalf("multipart upload left after abort: %v %v", out.Uploads, err)
		}
	}
	if used, nfiles, _ := usage(t, e, c.account); nfiles != int64(len(openPoints)) || used != int64(5*len(openPoints)) {
		t.Fatalf("usage = %d bytes %d files, want %d files of 5 bytes", used, nfiles, len(openPoints))
	}
}

// TestRequestCounts pins the AWS requests each step makes (authorizer
// GetItem included): presigning is local, completion is bounded.
func TestRequestCounts(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	c.expect(200, "GET", "/v1/usage", nil) // the token's first use: the authorizer records it, then not for 5 min
	count := func(f func()) []string {
		e.probe.Reset()
		f()
		return e.probe.Calls()
	}
	var s map[string]any
	calls := count(func() { s = c.open("big.bin", 300*8*MiB, nil) })
	if fmt.Sprint(calls) != "[DynamoDB.GetItem DynamoDB.UpdateItem S3.CreateMultipartUpload DynamoDB.PutItem]" {
		t.Fatalf("open made %v", calls)
	}
	id := s["id"].(string)
	calls = count(func() { c.partURLs(id, seq(101, 200)...) })
	if fmt.Sprint(calls) != "[DynamoDB.GetItem DynamoDB.GetItem]" {
		t.Fatalf("100 part URLs made %v (token + session reads only)", calls)
	}
	calls = count(func() { c.partURLs(id, seq(201, 300)...) })
	if fmt.Sprint(calls) != "[DynamoDB.GetItem]" {
		t.Fatalf("100 more part URLs made %v (the token read only: the session is cached)", calls)
	}
	small := c.open("s.bin", 3, nil)
	c.putParts([]byte("abc"), 8*MiB, partsOf(small))
	calls = count(func() { c.expect(200, "POST", "/v1/sessions/"+small["id"].(string)+"/complete", nil) })
	if fmt.Sprint(calls) != "[DynamoDB.GetItem DynamoDB.GetItem S3.ListParts S3.CompleteMultipartUpload DynamoDB.TransactWriteItems]" {
		t.Fatalf("complete made %v", calls)
	}
	// attachments: token, entity, one BatchGetItem for the files, one
	// transaction per attachment
	u := c.upload("a.pdf", []byte("a"), nil)["uuid"].(string)
	c.expect(201, "PUT", "/v1/entities/contact/8", map[string]any{"title": "C"})
	calls = count(func() {
		c.expect(200, "POST", "/v1/entities/contact/8/files", map[string]any{"file_uuids": []string{u}})
	})
	if fmt.Sprint(calls) != "[DynamoDB.GetItem DynamoDB.GetItem DynamoDB.GetItem DynamoDB.BatchGetItem DynamoDB.TransactWriteItems]" {
		t.Fatalf("attach made %v", calls)
	}
	c.walk("") // the first listing of a deployment creates the cursor key
	// each function's process reads the cursor key once (cold start)
	c.mediaTab("/v1/entities/contact/8/files", "")
	calls = count(func() { c.mediaTab("/v1/entities/contact/8/files", "") })
	if fmt.Sprint(calls) != "[DynamoDB.GetItem DynamoDB.GetItem DynamoDB.GetItem DynamoDB.Query DynamoDB.BatchGetItem]" {
		t.Fatalf("media tab made %v (token, entity alias and entry, attachments, files)", calls)
	}
	// a batch: token, entity (alias + entry), ids, pending record, one
	// PutObject per file, one transaction
	lead := uuid.NewString()
	c.expect(201, "PUT", "/v1/entities/lead/"+lead, map[string]any{})
	ct, body := multipartBody(t, [][2]string{{"crm_lead_id", lead}}, []formFile{{"files", "x.txt", "", []byte("x")}, {"files", "y.txt", "", []byte("y")}})
	calls = count(func() {
		if r := c.post(batchPath, ct, body); r.Status != 201 {
			t.Fatal(r)
		}
	})
	if fmt.Sprint(calls) != "[DynamoDB.GetItem DynamoDB.GetItem DynamoDB.UpdateItem DynamoDB.PutItem S3.PutObject S3.PutObject DynamoDB.TransactWriteItems]" {
		t.Fatalf("batch made %v", calls)
	}
}
