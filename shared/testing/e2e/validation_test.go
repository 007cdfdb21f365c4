package e2e_test

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// TestBadInput: every malformed request gets a problem+json naming the
// field, and leaves nothing behind.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	open := c.open("ok.bin", 20*MiB, nil)
	id := open["id"].(string)
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"malformed JSON", "POST", "/v1/sessions", `{"file_name": "a.txt",`, 400, "body"},
		{"not an object", "POST", "/v1/sessions", `[1,2]`, 400, "body"},
		{"two values", "POST", "/v1/sessions", `{"file_name":"a","file_size":1} {}`, 400, "body"},
		{"empty body", "POST", "/v1/sessions", ``, 400, "body"},
		{"unknown field", "POST", "/v1/sessions", map[string]any{"file_name": "a", "file_size": 1, "colour": "red"}, 400, "colour"},
		{"unknown nested field", "POST", "/v1/sessions", map[string]any{"file_name": "a", "file_size": 1, "checksum": map[string]any{"algorithm": "CRC32", "value": "AAAAAA==", "x": 1}}, 400, "checksum.x"},
		{"missing size", "POST", "/v1/sessions", map[string]any{"file_name": "a"}, 400, "file_size"},
		{"size as string", "POST", "/v1/sessions", `{"file_name":"a","file_size":"10"}`, 400, "file_size"},
		{"fractional size", "POST", "/v1/sessions", `{"file_name":"a","file_size":1.5}`, 400, "file_size"},
		{"negative size", "POST", "/v1/sessions", map[string]any{"file_name": "a", "file_size": -1}, 400, "file_size"},
		{"oversized", "POST", "/v1/sessions", map[string]any{"file_name": "a", "file_size": int64(6) << 40}, 400, "file_size"},
		{"size beyond int64", "POST", "/v1/sessions", `{"file_name":"a","file_size":99999999999999999999}`, 400, "file_size"},
		{"missing name", "POST", "/v1/sessions", map[string]any{"file_size": 1}, 400, "file_name"},
		{"control character", "POST", "/v1/sessions", map[string]any{"file_name": "a\nb.txt", "file_size": 1}, 400, "file_name"},
		{"NUL", "POST", "/v1/sessions", map[string]any{"file_name": "a\x00b", "file_size": 1}, 400, "file_name"},
		{"slash", "POST", "/v1/sessions", map[string]any{"file_name": "../etc/passwd", "file_size": 1}, 400, "file_name"},
		{"backslash", "POST", "/v1/sessions", map[string]any{"file_name": `C:\boot.ini`, "file_size": 1}, 400, "file_name"},
		{"1 KB name", "POST", "/v1/sessions", map[string]any{"file_name": strings.Repeat("a", 1024), "file_size": 1}, 400, "file_name"},
		{"dot dot", "POST", "/v1/sessions", map[string]any{"file_name": "..", "file_size": 1}, 400, "file_name"},
		{"right-to-left override", "POST", "/v1/sessions", map[string]any{"file_name": "fatura\u202Efdp.exe", "file_size": 1}, 400, "file_name"},
		{"zero-width space", "POST", "/v1/sessions", map[string]any{"file_name": "a\u200B.pdf", "file_size": 1}, 400, "file_name"},
		{"byte-order mark", "POST", "/v1/sessions", map[string]any{"file_name": "\uFEFFa.pdf", "file_size": 1}, 400, "file_name"},
		{"NaN size filter", "GET", "/v1/files?filter[size][from]=NaN", nil, 400, "filter[size][from]"},
		{"invalid UTF-8", "POST", "/v1/sessions", "{\"file_name\":\"a\xff.txt\",\"file_size\":1}", 400, "file_name"},
		{"bad content type", "POST", "/v1/sessions", map[string]any{"file_name": "a", "file_size": 1, "content_type": "not a type"}, 400, "content_type"},
		{"bad file uuid", "POST", "/v1/sessions", map[string]any{"file_name": "a", "file_size": 1, "file_uuid": "123"}, 400, "file_uuid"},
		{"bad checksum algorithm", "POST", "/v1/sessions", map[string]any{"file_name": "a", "file_size": 1, "checksum": map[string]any{"algorithm": "SHA256", "value": "AAAAAA=="}}, 400, "checksum.algorithm"},
		{"bad checksum value", "POST", "/v1/sessions", map[string]any{"file_name": "a", "file_size": 1, "checksum": map[string]any{"algorithm": "CRC32", "value": "nope"}}, 400, "checksum.value"},
		{"bad session id", "GET", "/v1/sessions/not-a-uuid", nil, 400, "id"},
		{"part zero", "POST", "/v1/sessions/" + id + "/parts", map[string]any{"part_numbers": []int{0}}, 400, "part_numbers[0]"},
		{"part beyond count", "POST", "/v1/sessions/" + id + "/parts", map[string]any{"part_numbers": []int{1, 4}}, 400, "part_numbers[1]"},
		{"duplicate part", "POST", "/v1/sessions/" + id + "/parts", map[string]any{"part_numbers": []int{2, 2}}, 400, "part_numbers[1]"},
		{"no parts", "POST", "/v1/sessions/" + id + "/parts", map[string]any{"part_numbers": []int{}}, 400, "part_numbers"},
		{"too many parts", "POST", "/v1/sessions/" + id + "/parts", map[string]any{"part_numbers": seq(1, 1001)}, 400, "part_numbers"},
		{"checksums without a session checksum", "POST", "/v1/sessions/" + id + "/parts", map[string]any{"part_numbers": []int{1}, "checksums": map[string]string{"1": "AAAAAA=="}}, 400, "checksums"},
		{"complete with bad part list", "POST", "/v1/sessions/" + id + "/complete", map[string]any{"parts": []map[string]any{{"part_number": 0}}}, 400, "parts[0].part_number"},
		{"complete with a string part number", "POST", "/v1/sessions/" + id + "/complete", `{"parts":[{"part_number":"1"}]}`, 400, "parts.part_number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(tc.method, tc.path, tc.body)
			m := r.JSON()
			if r.Status != tc.status || r.Header.Get("Content-Type") != "application/problem+json" || m["field"] != tc.field ||
				m["detail"] == "" || m["request_id"] == "" {
				t.Fatalf("%s", r)
			}
		})
	}
	t.Run("wrong content type", func(t *testing.T) {
		req, _ := http.NewRequest("POST", c.base+"/v1/sessions", strings.NewReader(`file_name=a`))
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 400 {
			t.Fatalf("%v %v", resp.StatusCode, err)
		}
	})
	t.Run("too many parts for part size", func(t *testing.T) {
		r := c.do("POST", "/v1/sessions", map[string]any{"file_name": "huge", "file_size": int64(10000)*5<<30 + 1})
		if r.Status != 400 || r.JSON()["field"] != "file_size" {
			t.Fatalf("%s", r)
		}
	})
	// Nothing above opened a session or reserved usage.
	if used, files, _ := usage(t, e, c.account); used != 0 || files != 0 {
		t.Fatalf("bad input changed usage: %d %d", used, files)
	}
	id2, _, _ := e.srv.Deps.Store().ReserveFileID(context.Background(), c.account)
	if id2 != 2 { // only the one good open reserved an id
		t.Fatalf("bad requests reserved file ids: next id %d", id2)
	}
}

// TestPartSizePlan: equal parts, the last shorter, large files grow parts.
func TestPartSizePlan(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	for _, tc := range []struct {
		size      int64
		partSize  int64
		partCount int
	}{
		{0, 8 * MiB, 0}, // an empty file has no parts
		{8*MiB + 1, 8 * MiB, 2},
		{80000 * MiB, 8 * MiB, 10000},
		{80000*MiB + 1, 9 * MiB, 8889},
		{int64(5) << 40, 525 * MiB, 9987},
	} {
		s := c.open("plan.bin", int(tc.size), nil)
		if int64(s["part_size"].(float64)) != tc.partSize || int(s["part_count"].(float64)) != tc.partCount {
			t.Errorf("size %d: part_size %v part_count %v, want %d %d", tc.size, s["part_size"], s["part_count"], tc.partSize, tc.partCount)
		}
		if n := len(partsOf(s)); n != min(tc.partCount, 100) {
			t.Errorf("size %d: %d part URLs in the first batch", tc.size, n)
		}
	}
}

// TestQuota: open refuses what cannot fit; concurrent sessions that each
// fit cannot together exceed the quota at completion.
func TestQuota(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(10, "")
	r := c.do("POST", "/v1/sessions", map[string]any{"file_name": "big", "file_size": 11})
	if r.Status != 507 || r.JSON()["code"] != "quota_exceeded" {
		t.Fatalf("open over quota: %s", r)
	}
	s1, s2 := c.open("a", 6, nil), c.open("b", 6, nil)
	c.putParts(random(6), 8*MiB, partsOf(s1))
	c.putParts(random(6), 8*MiB, partsOf(s2))
	c.expect(200, "POST", "/v1/sessions/"+s1["id"].(string)+"/complete", nil)
	r = c.do("POST", "/v1/sessions/"+s2["id"].(string)+"/complete", nil)
	if r.Status != 507 || r.JSON()["code"] != "quota_exceeded" {
		t.Fatalf("second completion over quota: %s", r)
	}
	if r := c.do("POST", "/v1/sessions/"+s2["id"].(string)+"/complete", nil); r.Status != 409 {
		t.Fatalf("retry after quota refusal: %s", r)
	}
	if used, files, _ := usage(t, e, c.account); used != 6 || files != 1 {
		t.Fatalf("usage = %d bytes %d files", used, files)
	}
	key := files.ObjectKey(c.account, s2["file_uuid"].(string), s2["version_uuid"].(string))
	if _, err := e.srv.Deps.Blobs().Head(context.Background(), key); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("the refused upload's object is still stored: %v", err)
	}
	key1 := files.ObjectKey(c.account, s1["file_uuid"].(string), s1["version_uuid"].(string))
	if _, err := e.srv.Deps.Blobs().Head(context.Background(), key1); err != nil {
		t.Fatalf("the accepted upload's object: %v", err)
	}
}

// TestCompletePartList: a client-supplied part list must match storage
// exactly: no extra, missing or duplicate parts, the right ETags.
func TestCompletePartList(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	data := random(8*MiB + 10)
	s := c.open("p.bin", len(data), nil)
	id := s["id"].(string)
	c.putParts(data, 8*MiB, partsOf(s))
	// S3's ETag of a part is the MD5 of its bytes (the status call would
	// complete the session, every part being in)
	var parts []map[string]any
	for n, p := range [][]byte{data[:8*MiB], data[8*MiB:]} {
		parts = append(parts, map[string]any{"part_number": n + 1, "etag": fmt.Sprintf(`"%x"`, md5.Sum(p))})
	}
	for _, tc := range []struct {
		name  string
		parts []map[string]any
		field string
	}{
		{"extra part", append(append([]map[string]any{}, parts...), map[string]any{"part_number": 3, "etag": "x"}), "parts[2].part_number"},
		{"missing part", parts[:1], "parts"},
		{"duplicate part", []map[string]any{parts[0], parts[0]}, "parts[1].part_number"},
		{"wrong etag", []map[string]any{parts[0], {"part_number": 2, "etag": `"0000"`}}, "parts[1].etag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("POST", "/v1/sessions/"+id+"/complete", map[string]any{"parts": tc.parts})
			if r.Status != 400 || r.JSON()["field"] != tc.field {
				t.Fatalf("%s", r)
			}
		})
	}
	if _, files, _ := usage(t, e, c.account); files != 0 {
		t.Fatal("a refused completion created a file")
	}
	f := c.expect(200, "POST", "/v1/sessions/"+id+"/complete", map[string]any{"parts": parts})
	if f["size"].(float64) != float64(len(data)) {
		t.Fatalf("%v", f)
	}
}
