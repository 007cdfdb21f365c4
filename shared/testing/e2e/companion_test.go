package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/testing/presigned"
	"github.com/anexo/anexo/shared/testing/sdkprobe"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// uppy speaks @uppy/aws-s3's companion protocol (no Authorization header).
type uppy struct {
	t        testing.TB
	endpoint string // the ticket's companion_endpoint
}

func (u uppy) call(method, path string, body any) (int, []byte) {
	u.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u.endpoint+"/s3"+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (u uppy) json(want int, method, path string, body, out any) {
	u.t.Helper()
	status, b := u.call(method, path, body)
	if status != want {
		u.t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			u.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// postForm uploads as Uppy's putObject does: the fields, then "file".
func postForm(t *testing.T, action string, fields map[string]string, name string, data []byte) (int, string) {
	t.Helper()
	status, body, err := presigned.PostForm(context.Background(), action, fields, name, data)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

func (c *client) ticket(ttl int) uppy {
	c.t.Helper()
	body := map[string]any{}
	if ttl > 0 {
		body["ttl_seconds"] = ttl
	}
	m := c.expect(201, "POST", "/v1/upload-tickets", body)
	ep := m["companion_endpoint"].(string)
	if !strings.HasPrefix(ep, c.base+"/v1/uppy/") || strings.Contains(ep, c.token) {
		c.t.Fatalf("companion_endpoint %s", ep)
	}
	return uppy{t: c.t, endpoint: ep}
}

// waitFile polls until a file exists (a form upload is recorded when S3
// reports it).
func (c *client) waitFile(uuid string) map[string]any {
	c.t.Helper()
	return c.pollFile(uuid, "was never recorded", func(map[string]any) bool { return true })
}

func TestUppyCompanion(t *testing.T) {
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		u := c.ticket(0)

		// small file: /s3/params → presigned POST policy → form upload to S3
		small := random(70_000)
		var params struct {
			Method string            `json:"method"`
			URL    string            `json:"url"`
			Fields map[string]string `json:"fields"`
		}
		u.json(200, "GET", "/params?"+url.Values{"filename": {"foto.jpg"}, "type": {"image/jpeg"},
			"metadata[name]": {"foto.jpg"}, "metadata[size]": {fmt.Sprint(len(small))}}.Encode(), nil, &params)
		key := params.Fields["key"]
		parts := strings.Split(key, "/")
		if params.Method != "POST" || len(parts) != 3 || parts[0] != c.account || !strings.HasSuffix(params.URL, "/") {
			t.Fatalf("params: %+v", params)
		}
		if be.Name == "embedded" { // versitygw enforces the policy; moto accepts anything
			if status, body := postForm(t, params.URL, params.Fields, "foto.jpg", small[:1000]); status < 400 {
				t.Fatalf("a body of another size was accepted: %d %s", status, body)
			}
			other := map[string]string{}
			for k, v := range params.Fields {
				other[k] = v
			}
			other["key"] = c.account + "/x/y"
			if status, body := postForm(t, params.URL, other, "foto.jpg", small); status < 400 {
				t.Fatalf("another key was accepted: %d %s", status, body)
			}
		}
		if status, body := postForm(t, params.URL, params.Fields, "foto.jpg", small); status >= 300 {
			t.Fatalf("form upload: %d %s", status, body)
		}
		var f map[string]any
		if be.Name == "embedded" {
			f = c.waitFile(parts[1]) // recorded by the S3 event alone
		} else {
			// moto sends no events: the session's status records it
			st := c.expect(200, "GET", "/v1/sessions/"+parts[2], nil)
			if st["session"].(map[string]any)["status"] != "completed" {
				t.Fatalf("status: %v", st)
			}
			f = c.waitFile(parts[1])
		}
		if f["name"] != "foto.jpg" || f["size"] != float64(len(small)) || f["mime_type"] != "image/jpeg" {
			t.Fatal(f)
		}
		if got, _ := c.download(parts[1], ""); !bytes.Equal(got, small) {
			t.Fatal("form upload: bytes differ")
		}

		// multipart: Uppy's default chunks (max(5 MiB, size/10000))
		big := random(12*MiB + 321)
		chunk := upload.UppyChunkSize(int64(len(big)))
		var created struct{ UploadID, Key string }
		u.json(200, "POST", "/multipart", map[string]any{"filename": "vídeo.mp4", "type": "video/mp4",
			"metadata": map[string]any{"name": "vídeo.mp4", "size": len(big)}}, &created)
		q := "?" + url.Values{"key": {created.Key}}.Encode()
		var etags []map[string]any
		for n, off := 1, int64(0); off < int64(len(big)); n, off = n+1, off+chunk {
			end := min(off+chunk, int64(len(big)))
			var signed struct{ URL string }
			u.json(200, "GET", fmt.Sprintf("/multipart/%s/%d%s", created.UploadID, n, q), nil, &signed)
			status, etag, err := presigned.Put(context.Background(), signed.URL, nil, big[off:end])
			if err != nil || status != 200 {
				t.Fatalf("part %d: %d %v", n, status, err)
			}
			etags = append(etags, map[string]any{"PartNumber": n, "ETag": etag})
			if n == 1 { // Uppy lists parts to resume
				var listed []map[string]any
				u.json(200, "GET", "/multipart/"+created.UploadID+q, nil, &listed)
				if len(listed) != 1 || listed[0]["PartNumber"] != 1.0 || listed[0]["Size"] != float64(chunk) {
					t.Fatalf("list parts: %v", listed)
				}
			}
		}
		var done struct {
			Location string `json:"location"`
			Key      string `json:"key"`
			FileUUID string `json:"file_uuid"`
		}
		u.json(200, "POST", "/multipart/"+created.UploadID+"/complete"+q, map[string]any{"parts": etags}, &done)
		if done.Key != created.Key {
			t.Fatal(done)
		}
		if got, _ := c.download(done.FileUUID, ""); !bytes.Equal(got, big) {
			t.Fatal("multipart: bytes differ")
		}
		// abort
		var aborted struct{ UploadID, Key string }
		u.json(200, "POST", "/multipart", map[string]any{"filename": "x.bin", "metadata": map[string]any{"size": 6 * MiB}}, &aborted)
		u.json(200, "DELETE", "/multipart/"+aborted.UploadID+"?key="+url.QueryEscape(aborted.Key), nil, nil)
		if st := c.expect(200, "GET", "/v1/sessions/"+aborted.UploadID, nil); st["session"].(map[string]any)["status"] != "aborted" {
			t.Fatal(st)
		}

		// refusals
		u.json(400, "GET", "/params?filename=a.txt&type=text/plain", nil, nil) // no size
		u.json(400, "POST", "/multipart", map[string]any{"filename": "a.bin", "metadata": map[string]any{}}, nil)
		for _, bad := range []any{1.5, 1e30, -1, "1e3", "NaN", "+5"} { // sizes are whole numbers of bytes
			u.json(400, "POST", "/multipart", map[string]any{"filename": "a.bin", "metadata": map[string]any{"size": bad}}, nil)
		}
		u.json(400, "GET", "/multipart/"+created.UploadID+"?key=other", nil, nil)
		u.json(400, "DELETE", "/multipart/"+created.UploadID+"?key=other", nil, nil)
		bad := uppy{t: t, endpoint: strings.Replace(u.endpoint, "/v1/uppy/", "/v1/uppy/x", 1)}
		bad.json(401, "POST", "/multipart", map[string]any{"filename": "a.bin", "metadata": map[string]any{"size": 1}}, nil)
		// another account's ticket cannot reach this account's uploads
		o := e.account(0, "").ticket(0)
		o.json(404, "GET", "/multipart/"+created.UploadID+q, nil, nil)
		// a read-only token cannot mint tickets
		ro := e.account(0, "", "files:read")
		if r := ro.do("POST", "/v1/upload-tickets", map[string]any{}); r.Status != 403 {
			t.Fatal(r)
		}
		problemField(t, c.do("POST", "/v1/upload-tickets", map[string]any{"ttl_seconds": 10}), 400, "ttl_seconds")
		// tickets expire
		short := c.ticket(60)
		e.clock.Advance(2 * time.Minute)
		short.json(401, "POST", "/multipart", map[string]any{"filename": "a.bin", "metadata": map[string]any{"size": 1}}, nil)
	})
}

// params signs a form upload through the ticket and returns the POST.
func (u uppy) params(name string, size int) (action string, fields map[string]string) {
	u.t.Helper()
	var p struct {
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
	}
	u.json(200, "GET", "/params?"+url.Values{"filename": {name}, "type": {"application/octet-stream"},
		"metadata[size]": {fmt.Sprint(size)}}.Encode(), nil, &p)
	return p.URL, p.Fields
}

// TestFormUploadStatusAndQuota: the status of a form upload not posted yet
// (a missing key, which S3 answers with 404 only to a function that may
// list the bucket), and two form uploads that fit the quota alone but not
// together: the second is refused wherever it is recorded (by the S3 event
// on the embedded S3, by the status call on moto, which sends no events),
// its bytes are removed and usage stays exact.
func TestFormUploadStatusAndQuota(t *testing.T) {
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(100_000, "")
		u := c.ticket(0)
		type form struct {
			action, key, session string
			fields               map[string]string
		}
		var forms []form
		for _, name := range []string{"a.bin", "b.bin"} {
			action, fields := u.params(name, 70_000)
			forms = append(forms, form{action: action, key: fields["key"], session: strings.Split(fields["key"], "/")[2], fields: fields})
		}
		st := c.expect(200, "GET", "/v1/sessions/"+forms[0].session, nil)
		if st["session"].(map[string]any)["status"] != "open" {
			t.Fatalf("status before the POST: %v", st)
		}
		for _, f := range forms {
			if status, body := postForm(t, f.action, f.fields, "x.bin", random(70_000)); status >= 300 {
				t.Fatalf("form upload: %d %s", status, body)
			}
		}
		settled := func(id string) bool {
			s, err := e.srv.Deps.Store().GetSession(context.Background(), c.account, id)
			return err == nil && s.Status != upload.StatusOpen
		}
		for _, f := range forms {
			if be.Name == "embedded" { // the recorder decides
				for i := 0; !settled(f.session); i++ {
					if i > 200 {
						t.Fatalf("session %s was never recorded nor refused", f.session)
					}
					time.Sleep(20 * time.Millisecond)
				}
			} else if r := c.do("GET", "/v1/sessions/"+f.session, nil); r.Status != 200 && r.Status != 507 { // 507 quota_exceeded
				t.Fatalf("status: %s", r)
			}
		}
		states := map[string]int{}
		for _, f := range forms {
			st := c.expect(200, "GET", "/v1/sessions/"+f.session, nil)
			states[st["session"].(map[string]any)["status"].(string)]++
			if n := e.versions(t, f.key); (st["session"].(map[string]any)["status"] == "completed") != (n == 1) || n > 1 {
				t.Fatalf("%s: %d object versions for a %v session", f.key, n, st["session"])
			}
		}
		if states["completed"] != 1 || states["aborted"] != 1 {
			t.Fatalf("sessions: %v, want one completed and one refused", states)
		}
		if used, nfiles, _ := usage(t, e, c.account); used != 70_000 || nfiles != 1 {
			t.Fatalf("usage %d bytes %d files", used, nfiles)
		}
	})
}

// TestFormUploadReplay: a POST policy stays valid for minutes and can be
// replayed. Replayed after the file is recorded, after a quota refusal and
// after an abort, S3 takes the bytes; the recorder deletes every version
// no file records, so the recorded bytes stay current and downloadable,
// nothing unrecorded survives, and usage stays exact.
func TestFormUploadReplay(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(100_000, "")
	u := c.ticket(0)
	ctx := context.Background()
	type form struct {
		action, key, session string
		fields               map[string]string
	}
	params := func(size int) form {
		action, fields := u.params("replay.bin", size)
		return form{action: action, key: fields["key"], session: strings.Split(fields["key"], "/")[2], fields: fields}
	}
	post := func(f form, data []byte) {
		t.Helper()
		if status, body := postForm(t, f.action, f.fields, "replay.bin", data); status >= 300 {
			t.Fatalf("POST: %d %s", status, body)
		}
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for i := 0; !ok(); i++ {
			if i > 300 {
				t.Fatalf("never: %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	status := func(f form) upload.Status {
		s, err := e.srv.Deps.Store().GetSession(ctx, c.account, f.session)
		if err != nil {
			t.Fatal(err)
		}
		return s.Status
	}

	recorded, original := params(70_000), random(70_000)
	refused := params(70_000) // over the quota once the first is recorded
	post(recorded, original)
	eventually("the form upload is recorded", func() bool { return status(recorded) == upload.StatusCompleted })
	post(refused, random(70_000))
	eventually("the upload over the quota is refused", func() bool { return status(refused) == upload.StatusAborted })
	aborted := params(10_000)
	c.expect(204, "DELETE", "/v1/sessions/"+aborted.session, nil)

	post(recorded, random(70_000)) // the replays
	post(refused, random(70_000))
	post(aborted, random(10_000))
	eventually("every unrecorded version is deleted", func() bool {
		return e.versions(t, recorded.key) == 1 && e.versions(t, refused.key) == 0 && e.versions(t, aborted.key) == 0
	})
	sess, _ := e.srv.Deps.Store().GetSession(ctx, c.account, recorded.session)
	v, err := e.srv.Deps.Store().GetVersion(ctx, c.account, sess.FileUUID, sess.VersionUUID)
	if err != nil {
		t.Fatal(err)
	}
	if obj, err := e.srv.Deps.Blobs().Head(ctx, recorded.key); err != nil || obj.VersionID != v.S3Version {
		t.Fatalf("current version %+v (%v), recorded %s: the recorded bytes are noncurrent", obj, err, v.S3Version)
	}
	if got, _ := c.download(sess.FileUUID, ""); !bytes.Equal(got, original) {
		t.Fatal("the download is not the recorded bytes")
	}
	if used, nfiles, _ := usage(t, e, c.account); used != 70_000 || nfiles != 1 {
		t.Fatalf("usage %d bytes %d files", used, nfiles)
	}

	// replayed after its file was trashed, and after it was purged: the
	// replayed version is deleted, the trashed bytes stay hidden
	// (restorable), the purged key stays empty
	c.expect(200, "DELETE", "/v1/files", []map[string]any{{"uuid": sess.FileUUID}})
	post(recorded, random(70_000))
	eventually("the replay on the trashed key is deleted, its delete marker current again", func() bool {
		out, err := e.srv.Deps.S3().ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(e.srv.Deps.Cfg.Bucket), Prefix: aws.String(recorded.key)})
		return err == nil && len(out.Versions) == 1 && len(out.DeleteMarkers) == 1 && aws.ToBool(out.DeleteMarkers[0].IsLatest)
	})
	purged := params(1_000)
	post(purged, random(1_000))
	eventually("the second form upload is recorded", func() bool { return status(purged) == upload.StatusCompleted })
	ps, _ := e.srv.Deps.Store().GetSession(ctx, c.account, purged.session)
	c.expect(200, "DELETE", "/v1/files", []map[string]any{{"uuid": ps.FileUUID}})
	c.expect(200, "POST", "/v1/files/purge", []map[string]any{{"uuid": ps.FileUUID}})
	eventually("the purged key is empty", func() bool { return e.versions(t, purged.key) == 0 })
	post(purged, random(1_000))
	eventually("the replays on a trashed and a purged key are deleted", func() bool {
		return e.versions(t, recorded.key) == 1 && e.versions(t, purged.key) == 0
	})
	c.expect(200, "POST", "/v1/files/restore", []map[string]any{{"uuid": sess.FileUUID}})
	if got, _ := c.download(sess.FileUUID, ""); !bytes.Equal(got, original) {
		t.Fatal("the restored download is not the recorded bytes")
	}
}

// multipart starts a multipart upload through the ticket and uploads data
// in Uppy's chunks, returning the upload id, the key query and the parts.
func (u uppy) multipart(name string, data []byte) (string, string, []map[string]any) {
	u.t.Helper()
	var created struct{ UploadID, Key string }
	u.json(200, "POST", "/multipart", map[string]any{"filename": name, "metadata": map[string]any{"size": len(data)}}, &created)
	q := "?" + url.Values{"key": {created.Key}}.Encode()
	chunk := upload.UppyChunkSize(int64(len(data)))
	var etags []map[string]any
	for n, off := 1, int64(0); off < int64(len(data)); n, off = n+1, off+chunk {
		var signed struct{ URL string }
		u.json(200, "GET", fmt.Sprintf("/multipart/%s/%d%s", created.UploadID, n, q), nil, &signed)
		status, etag, err := presigned.Put(context.Background(), signed.URL, nil, data[off:min(off+chunk, int64(len(data)))])
		if err != nil || status != 200 {
			u.t.Fatalf("part %d: %d %v", n, status, err)
		}
		etags = append(etags, map[string]any{"PartNumber": n, "ETag": etag})
	}
	return created.UploadID, q, etags
}

// TestCompanionCompletionRecovery: Uppy's completion takes the session's
// steps in the companion function: a completion whose answer was lost is
// finished by the retry (the assembled object is found), a completion of
// nothing is refused (the object is a missing key), and one past the quota
// removes what S3 assembled.
func TestCompanionCompletionRecovery(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(12*MiB, "")
	u := c.ticket(0)
	complete := func(id, q string, parts []map[string]any) (int, map[string]any) {
		status, b := u.call("POST", "/multipart/"+id+"/complete"+q, map[string]any{"parts": parts})
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return status, m
	}
	data := random(6 * MiB)
	id, q, parts := u.multipart("lost.bin", data)
	e.probe.Arm(sdkprobe.Fault{Op: "S3.CompleteMultipartUpload", After: true})
	if status, m := complete(id, q, parts); status != 500 {
		t.Fatalf("completion with its answer lost: %d %v", status, m)
	}
	status, done := complete(id, q, parts)
	if status != 200 {
		t.Fatalf("retry: %d %v", status, done)
	}
	if got, _ := c.download(done["file_uuid"].(string), ""); !bytes.Equal(got, data) {
		t.Fatal("bytes differ")
	}

	var created struct{ UploadID, Key string }
	u.json(200, "POST", "/multipart", map[string]any{"filename": "nothing.bin", "metadata": map[string]any{"size": 10}}, &created)
	id, q = created.UploadID, "?"+url.Values{"key": {created.Key}}.Encode()
	if status, m := complete(id, q, []map[string]any{{"PartNumber": 1, "ETag": `"x"`}}); status != 409 || m["code"] != "parts_missing" {
		t.Fatalf("completion without parts: %d %v", status, m)
	}

	// two uploads that fit the quota alone, not together
	b, qb, pb := u.multipart("b.bin", random(5*MiB))
	d, qd, pd := u.multipart("d.bin", random(5*MiB))
	if status, m := complete(b, qb, pb); status != 200 {
		t.Fatalf("first: %d %v", status, m)
	}
	if status, m := complete(d, qd, pd); status != 507 || m["code"] != "quota_exceeded" {
		t.Fatalf("past the quota: %d %v", status, m)
	}
	if used, nfiles, versions := usage(t, e, c.account); used != 11*MiB || nfiles != 2 || versions != 2 {
		t.Fatalf("usage %d bytes %d files %d versions", used, nfiles, versions)
	}
	if n := e.versions(t, c.account+"/"); n != 2 {
		t.Fatalf("%d object versions in the account, want 2", n)
	}
}
