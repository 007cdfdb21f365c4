package httpapi

import (
	"bytes"
	"encoding/base64"
	"mime/multipart"
	"testing"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/batches"
)

func body(fields [][2]string, files [][2]string) (string, []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.SetBoundary("fuzzboundary")
	for _, f := range fields {
		_ = w.WriteField(f[0], f[1])
	}
	for _, f := range files {
		fw, _ := w.CreateFormFile(f[0], f[1])
		_, _ = fw.Write([]byte("data"))
	}
	_ = w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

// FuzzParse: any multipart body is parsed into a valid batch input or
// refused as invalid input naming a field (or 413) — never a panic, never
// an internal error.
func FuzzParse(f *testing.F) {
	_, b1 := body([][2]string{{"crm_lead_id", "3c90c3cc-0d44-4b50-8888-8dd25736052a"}, {"title", "t"}, {"note", "n"}},
		[][2]string{{"files", "a.pdf"}, {"file", "b.txt"}, {"files.items", "c.png"}})
	_, b2 := body([][2]string{{"lead_code", "12"}, {"deal_code", "13"}}, nil)
	_, b3 := body([][2]string{{"unknown", "x"}}, [][2]string{{"title", "x.txt"}})
	for _, b := range [][]byte{b1, b2, b3, []byte("--fuzzboundary\r\n"), nil} {
		f.Add(b, true)
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, encoded bool) {
		req := Request{Headers: map[string]string{"content-type": "multipart/form-data; boundary=fuzzboundary"}, Body: string(raw)}
		if encoded {
			req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(raw), true
		}
		in, err := parse(req)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || (e.Kind != apperr.KindInvalid && e.Kind != apperr.KindTooLarge) || e.Kind == apperr.KindInvalid && len(e.Fields) == 0 {
				t.Fatalf("%v is not a client error naming a field", err)
			}
			return
		}
		if in.TargetField == "" || in.Target.Type == "" || (in.Target.UUID == "") == (in.Target.Code == 0) {
			t.Fatalf("parsed without exactly one target: %+v", in)
		}
		if err := batches.Validate(in); err != nil {
			if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindInvalid {
				t.Fatalf("validate: %v", err)
			}
		}
	})
}
