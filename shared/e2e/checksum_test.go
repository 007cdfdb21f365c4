package e2e_test

import (
	"bytes"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strconv"
	"testing"

	"github.com/anexo/anexo/shared/presigned"
	"github.com/anexo/anexo/shared/testenv"
)

var crcs = map[string]func() hash.Hash{
	"CRC32":     func() hash.Hash { return crc32.NewIEEE() },
	"CRC32C":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"CRC64NVME": func() hash.Hash { return crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5)) },
}

func crcOf(alg string, b []byte) string {
	h := crcs[alg]()
	h.Write(b)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// TestWholeFileChecksum: S3 itself verifies the declared whole-file CRC
// (versitygw verifies; moto would not), with each part's CRC signed into its URL.
func TestWholeFileChecksum(t *testing.T) {
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	data := random(2*8*MiB + 777)
	for _, alg := range []string{"CRC32", "CRC32C", "CRC64NVME"} {
		for _, tc := range []struct {
			name  string
			whole string
			want  int
		}{
			{"right", crcOf(alg, data), 200},
			{"wrong", crcOf(alg, data[1:]), 422},
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
				sums := map[string]string{}
				for n := 1; n <= 3; n++ {
					end := min(n*8*MiB, len(data))
					sums[strconv.Itoa(n)] = crcOf(alg, data[(n-1)*8*MiB:end])
				}
				ps := partsOf(c.expect(200, "POST", "/v1/sessions/"+id+"/parts", map[string]any{"part_numbers": []int{1, 2, 3}, "checksums": sums}))
				if h := ps[0].Headers["X-Amz-Checksum-"+map[string]string{"CRC32": "Crc32", "CRC32C": "Crc32c", "CRC64NVME": "Crc64nvme"}[alg]]; h != sums["1"] {
					t.Fatalf("part 1 headers %v", ps[0].Headers)
				}
				c.putParts(data, 8*MiB, ps)
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
		s := c.open("t.bin", 10, map[string]any{"checksum": map[string]any{"algorithm": "CRC32", "value": crcOf("CRC32", []byte("0123456789"))}})
		ps := partsOf(c.expect(200, "POST", "/v1/sessions/"+s["id"].(string)+"/parts",
			map[string]any{"part_numbers": []int{1}, "checksums": map[string]string{"1": crcOf("CRC32", []byte("0123456789"))}}))
		status, _, err := presigned.Put(t.Context(), ps[0].URL, ps[0].Headers, []byte("9876543210"))
		if err != nil || status < 400 {
			t.Fatalf("PUT of other bytes with the signed CRC: %d %v", status, err)
		}
	})
}
