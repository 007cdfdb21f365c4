package openapi_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pb33f/jsonschema/v6"

	"github.com/anexo/anexo/shared/inbound/openapi"
	"github.com/anexo/anexo/shared/inbound/openapi/openapitest"
)

// TestBusEventSchemaFile: events/bus/event.schema.json is BusEvent (make
// bus-schema rewrites it), and it holds the sample entry and refuses an
// entry that drifts from it.
func TestBusEventSchemaFile(t *testing.T) {
	s, err := openapi.BusEvent()
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	file := openapitest.BusSchemaFile()
	if os.Getenv("ANEXO_UPDATE") != "" {
		if err := os.WriteFile(file, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is not the document's bus event schema (run make bus-schema): %v", file, err)
	}

	sch := openapitest.BusSchema(t)
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(file), "file.attached.json"))
	if err != nil {
		t.Fatal(err)
	}
	sample := string(raw)
	for _, tc := range []struct {
		name, entry string
		valid       bool
	}{
		{"the sample", sample, true},
		{"no account_id", strings.Replace(sample, `"account_id": "acct-7f3a",`, "", 1), false},
		{"another source", strings.Replace(sample, `"source": "anexo"`, `"source": "crm"`, 1), false},
		{"an unknown type", strings.Replace(sample, `"detail-type": "file.attached"`, `"detail-type": "file.eaten"`, 1), false},
		{"an entity without its code", strings.Replace(sample, `"code": 9001,`, "", 1), false},
		{"a file without its links", strings.Replace(sample, `"download": {"href": "/v1/files/01a2143a-6f0e-4a57-9c3d-0c1e2f3a4b5c/download"}`, `"x": {"href": "/"}`, 1), false},
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(tc.entry))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := sch.Validate(v); (err == nil) != tc.valid {
			t.Errorf("%s: valid=%v, want %v: %v", tc.name, err == nil, tc.valid, err)
		}
	}
}
