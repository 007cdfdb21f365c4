package httpapi

import (
	"testing"

	"github.com/anexo/anexo/shared/base/apperr"
)

type fuzzBody struct {
	FileName string `json:"file_name"`
	FileSize *int64 `json:"file_size"`
	Checksum *struct {
		Algorithm string `json:"algorithm"`
		Value     string `json:"value"`
	} `json:"checksum"`
	Attach []struct {
		EntityType string `json:"entity_type"`
		EntityID   string `json:"entity_id"`
	} `json:"attach"`
	Parts []struct {
		PartNumber int32  `json:"part_number"`
		ETag       string `json:"etag"`
	} `json:"parts"`
	Checksums map[string]string `json:"checksums"`
}

// FuzzDecodeJSON: any body decodes or is refused as invalid input naming
// a field (or 413) — never a panic, never an internal error.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"file_name":"a.pdf","file_size":1}`, `{"file_name":"a","checksum":{"algorithm":"CRC32","value":"AAAAAA=="}}`,
		`{"attach":[{"entity_type":"lead","entity_id":"1","x":1}]}`, `{"parts":[{"part_number":1,"etag":"e"}]}`,
		`{"checksums":{"1":"x"}}`, `{"file_size":"1"}`, `{"a":1}`, `[]`, `{`, `{} {}`, ``, `null`, `{"file_name":"\u0000"}`,
	} {
		f.Add(s, "application/json")
	}
	f.Add(`{}`, "text/plain")
	f.Fuzz(func(t *testing.T, body, ct string) {
		var v fuzzBody
		err := DecodeJSON(Request{Headers: map[string]string{"content-type": ct}, Body: body}, &v)
		if err == nil {
			return
		}
		e, ok := apperr.As(err)
		if !ok || (e.Kind != apperr.KindInvalid && e.Kind != apperr.KindTooLarge) {
			t.Fatalf("%q: %v", body, err)
		}
		if e.Kind == apperr.KindInvalid && len(e.Fields) == 0 && e.Extra["field"] == nil {
			t.Fatalf("%q: %v names no field", body, err)
		}
	})
}
