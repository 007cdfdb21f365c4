package e2e_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"

	"github.com/anexo/anexo/shared/base/crc"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/norace"
	"github.com/anexo/anexo/shared/testing/presigned"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// partSums are the CRCs of data's parts, keyed as the parts call takes them.
func partSums(alg string, data []byte, partSize int) map[string]string {
	sums := map[string]string{}
	for n, off := 1, 0; off < len(data); n, off = n+1, off+partSize {
		sums[strconv.Itoa(n)] = crc.Of(alg, data[off:min(off+partSize, len(data))])
	}
	return sums
}

// recordedChecksum is the checksum the file's current version records.
func (c *client) recordedChecksum(t *testing.T, uuid string) (alg, value string) {
	t.Helper()
	vs := c.expect(200, "GET", "/v1/files/"+uuid+"/versions", nil)["_embedded"].(map[string]any)["versions"].([]any)
	for _, x := range vs {
		if v := x.(map[string]any); v["is_main"] == true {
			alg, _ = v["checksum_algorithm"].(string)
			value, _ = v["checksum"].(string)
		}
	}
	return alg, value
}

// smallParts plans S3's smallest parts (5 MiB), so that a test of three
// parts moves 10 MiB rather than the default plan's 16.
func smallParts(o *devserver.Options) { o.Config.Limits.MinPartSize = 5 * MiB }

// TestWholeFileChecksum: S3 itself verifies the declared whole-file CRC
// (versitygw verifies; moto would not), with each part's CRC signed into its URL.
func TestWholeFileChecksum(t *testing.T) {
	norace.Run(t)
	t.Parallel()
	e := start(t, testenv.Embedded(t), smallParts)
	c := e.account(0, "")
	data := random(2*5*MiB + 777)
	for _, alg := range []string{"CRC32", "CRC32C", "CRC64NVME"} {
		for _, tc := range []struct {
			name  string
			whole string
			want  int
		}{
			{"right", crc.Of(alg, data), 200},
			{"wrong", crc.Of(alg, data[1:]), 422},
		} {
			t.Run(alg+"/"+tc.name, func(t *testing.T) {
				s := c.open("sum.bin", len(data), map[string]any{"checksum": map[string]any{"algorithm": alg, "value": tc.whole}})
				if len(partsOf(s)) != 0 {
					t.Fatal("open returned part URLs without the parts' checksums")
				}
				id := s["id"].(string)
				if r := c.do("POST", "/v1/sessions/"+id+"/parts", map[string]any{"part_numbers": []int{1}}); r.Status != 400 || r.JSON()["field"] != "checksums.1" {
					t.Fatalf("parts without checksums: %s", r)
				}
				sums := partSums(alg, data, 5*MiB)
				ps := partsOf(c.expect(200, "POST", "/v1/sessions/"+id+"/parts", map[string]any{"part_numbers": []int{1, 2, 3}, "checksums": sums}))
				if h := ps[0].Headers["X-Amz-Checksum-"+map[string]string{"CRC32": "Crc32", "CRC32C": "Crc32c", "CRC64NVME": "Crc64nvme"}[alg]]; h != sums["1"] {
					t.Fatalf("part 1 headers %v", ps[0].Headers)
				}
				c.putParts(data, 5*MiB, ps)
				r := c.do("POST", "/v1/sessions/"+id+"/complete", nil)
				if r.Status != tc.want {
					t.Fatalf("complete: %s", r)
				}
				if tc.want == 422 {
					if r.JSON()["code"] != "checksum_mismatch" || r.JSON()["field"] != "checksum.value" {
						t.Fatalf("%s", r)
					}
					return
				}
				if got, _ := c.download(r.JSON()["uuid"].(string), ""); !bytes.Equal(got, data) {
					t.Fatal("bytes differ")
				}
			})
		}
	}
	t.Run("tampered part", func(t *testing.T) {
		s := c.open("t.bin", 10, map[string]any{"checksum": map[string]any{"algorithm": "CRC32", "value": crc.Of("CRC32", []byte("0123456789"))}})
		ps := partsOf(c.expect(200, "POST", "/v1/sessions/"+s["id"].(string)+"/parts",
			map[string]any{"part_numbers": []int{1}, "checksums": map[string]string{"1": crc.Of("CRC32", []byte("0123456789"))}}))
		status, _, err := presigned.Put(t.Context(), ps[0].URL, ps[0].Headers, []byte("9876543210"))
		if err != nil || status < 400 {
			t.Fatalf("PUT of other bytes with the signed CRC: %d %v", status, err)
		}
	})
}

// TestOnePassChecksum: a session opened with the algorithm alone takes the
// whole-file value at completion (a client that hashes each part as it
// reads it for sending reads the file once). S3 still verifies each part
// against the CRC signed into its URL, and the assembled object against
// the value given at completion or, without one, the combination of the
// part CRCs it verified. On versitygw, which verifies both as S3 does.
func TestOnePassChecksum(t *testing.T) {
	norace.Run(t)
	t.Parallel()
	e := start(t, testenv.Embedded(t), smallParts)
	c := e.account(0, "")
	data := random(2*5*MiB + 777)
	upload := func(t *testing.T, alg string) string {
		s := c.open("one-pass.bin", len(data), map[string]any{"checksum": map[string]any{"algorithm": alg}})
		if cs := s["checksum"].(map[string]any); cs["algorithm"] != alg || cs["value"] != nil || len(partsOf(s)) != 0 {
			t.Fatalf("open: %v", s)
		}
		id := s["id"].(string)
		c.putParts(data, 5*MiB, partsOf(c.expect(200, "POST", "/v1/sessions/"+id+"/parts",
			map[string]any{"part_numbers": []int{1, 2, 3}, "checksums": partSums(alg, data, 5*MiB)})))
		return id
	}
	complete := func(id string, body any) response { return c.do("POST", "/v1/sessions/"+id+"/complete", body) }
	for _, alg := range []string{"CRC32", "CRC32C", "CRC64NVME"} {
		t.Run(alg, func(t *testing.T) {
			id := upload(t, alg)
			// a wrong whole-file value: S3 refuses the assembly, the session stays open
			wrong := map[string]any{"checksum": map[string]any{"algorithm": alg, "value": crc.Of(alg, data[1:])}}
			if r := complete(id, wrong); r.Status != 422 || r.JSON()["code"] != "checksum_mismatch" || r.JSON()["field"] != "checksum.value" {
				t.Fatalf("wrong value: %s", r)
			}
			right := map[string]any{"checksum": map[string]any{"algorithm": alg, "value": crc.Of(alg, data)}}
			f := c.expect(200, "POST", "/v1/sessions/"+id+"/complete", right)
			if got, _ := c.download(f["uuid"].(string), ""); !bytes.Equal(got, data) {
				t.Fatal("bytes differ")
			}
			if a, v := c.recordedChecksum(t, f["uuid"].(string)); a != alg || v != crc.Of(alg, data) {
				t.Fatalf("recorded %s %s", a, v)
			}
			if again := c.expect(200, "POST", "/v1/sessions/"+id+"/complete", right); again["version_uuid"] != f["version_uuid"] {
				t.Fatal("a retried completion answered another version")
			}
		})
	}
	t.Run("value left to the server", func(t *testing.T) {
		// no value at completion (or a status call completing the session
		// itself): the part CRCs S3 verified, combined, are what S3 checks
		id := upload(t, "CRC64NVME")
		st := c.expect(200, "GET", "/v1/sessions/"+id, nil)
		for _, p := range st["uploaded_parts"].([]any) {
			pt := p.(map[string]any)
			if want := partSums("CRC64NVME", data, 5*MiB)[fmt.Sprint(pt["part_number"])]; pt["checksum"] != want {
				t.Fatalf("uploaded part %v: checksum %v, want %s", pt["part_number"], pt["checksum"], want)
			}
		}
		if st["file"] == nil {
			t.Fatalf("every part in, the status call did not complete the session: %v", st)
		}
		if a, v := c.recordedChecksum(t, st["file"].(map[string]any)["uuid"].(string)); a != "CRC64NVME" || v != crc.Of("CRC64NVME", data) {
			t.Fatalf("recorded %s %s", a, v)
		}
	})
	t.Run("wrong part CRC", func(t *testing.T) {
		s := c.open("t.bin", 10, map[string]any{"checksum": map[string]any{"algorithm": "CRC32C"}})
		ps := partsOf(c.expect(200, "POST", "/v1/sessions/"+s["id"].(string)+"/parts",
			map[string]any{"part_numbers": []int{1}, "checksums": map[string]string{"1": crc.Of("CRC32C", []byte("0123456789"))}}))
		status, _, err := presigned.Put(t.Context(), ps[0].URL, ps[0].Headers, []byte("9876543210"))
		if err != nil || status < 400 {
			t.Fatalf("PUT of other bytes with the signed CRC: %d %v", status, err)
		}
	})
	t.Run("refused at completion", func(t *testing.T) {
		id := upload(t, "CRC32C")
		for _, tc := range []struct {
			body  any
			field string
		}{
			{map[string]any{"checksum": map[string]any{"algorithm": "CRC32", "value": crc.Of("CRC32", data)}}, "checksum.algorithm"},
			{map[string]any{"checksum": map[string]any{"algorithm": "CRC32C"}}, "checksum.value"},
			{map[string]any{"checksum": map[string]any{"algorithm": "CRC32C", "value": "AAAA"}}, "checksum.value"},
		} {
			if r := complete(id, tc.body); r.Status != 400 || r.JSON()["field"] != tc.field {
				t.Fatalf("%v: %s", tc.body, r)
			}
		}
		declared := c.open("d.bin", 10, map[string]any{"checksum": map[string]any{"algorithm": "CRC32C", "value": crc.Of("CRC32C", []byte("0123456789"))}})
		if r := complete(declared["id"].(string), map[string]any{"checksum": map[string]any{"algorithm": "CRC32C", "value": crc.Of("CRC32C", []byte("x"))}}); r.Status != 400 || r.JSON()["field"] != "checksum.value" {
			t.Fatalf("a value other than the one declared at open: %s", r)
		}
		none := c.open("n.bin", 10, nil)
		if r := complete(none["id"].(string), map[string]any{"checksum": map[string]any{"algorithm": "CRC32C", "value": crc.Of("CRC32C", []byte("x"))}}); r.Status != 400 || r.JSON()["field"] != "checksum" {
			t.Fatalf("a checksum for a session opened without one: %s", r)
		}
		c.expect(200, "POST", "/v1/sessions/"+id+"/complete", map[string]any{"checksum": map[string]any{"algorithm": "CRC32C", "value": crc.Of("CRC32C", data)}})
	})
	t.Run("empty file", func(t *testing.T) {
		s := c.open("empty.txt", 0, map[string]any{"checksum": map[string]any{"algorithm": "CRC32C"}})
		f := c.expect(200, "POST", "/v1/sessions/"+s["id"].(string)+"/complete", map[string]any{"checksum": map[string]any{"algorithm": "CRC32C", "value": "AAAAAA=="}})
		if a, v := c.recordedChecksum(t, f["uuid"].(string)); a != "CRC32C" || v != "AAAAAA==" {
			t.Fatalf("recorded %s %s", a, v)
		}
	})
}
