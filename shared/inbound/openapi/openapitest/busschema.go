package openapitest

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pb33f/jsonschema/v6"
)

// BusSchemaFile is the repository's events/bus/event.schema.json, the
// JSON Schema of an entry of the EventBridge bus (openapi.BusEvent).
func BusSchemaFile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "events", "bus", "event.schema.json")
}

// BusSchema compiles BusSchemaFile as a consumer reads it, failing t if
// it cannot.
func BusSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile(BusSchemaFile())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	comp := jsonschema.NewCompiler()
	if err := comp.AddResource("event.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := comp.Compile("event.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}
