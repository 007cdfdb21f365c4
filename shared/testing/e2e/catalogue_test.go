package e2e_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/jsonschema/v6"

	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// catalogue is GET /v1/event-types' answer: each type's data schema,
// compiled, and the types whose deliveries the suite's receivers checked
// against it.
var catalogue struct {
	once    sync.Once
	schemas map[string]*jsonschema.Schema
	err     error

	mu      sync.Mutex
	checked map[string]int
}

// loadCatalogue reads the catalogue over HTTP once (from any server: it
// is the same everywhere) and compiles its schemas.
func loadCatalogue(c *client) {
	catalogue.once.Do(func() {
		var body struct {
			PayloadVersion int `json:"payload_version"`
			EventTypes     []struct {
				Type       string         `json:"type"`
				DataSchema map[string]any `json:"data_schema"`
			} `json:"event_types"`
		}
		raw, _ := json.Marshal(c.public(200, "GET", "/v1/event-types"))
		if catalogue.err = json.Unmarshal(raw, &body); catalogue.err != nil {
			return
		}
		if body.PayloadVersion != outbox.PayloadVersion {
			catalogue.err = fmt.Errorf("payload_version %d", body.PayloadVersion)
			return
		}
		catalogue.schemas, catalogue.checked = map[string]*jsonschema.Schema{}, map[string]int{}
		for _, et := range body.EventTypes {
			comp := jsonschema.NewCompiler()
			url := "https://anexo.test/event-types/" + et.Type
			if catalogue.err = comp.AddResource(url, et.DataSchema); catalogue.err != nil {
				return
			}
			if catalogue.schemas[et.Type], catalogue.err = comp.Compile(url); catalogue.err != nil {
				return
			}
		}
	})
}

// checkDelivery validates a delivered event against the catalogue: its
// data against its type's schema, its payload version, its sequence
// (every event but a test's); "" when it holds.
func checkDelivery(body []byte) string {
	if catalogue.schemas == nil {
		return "" // no server read the catalogue in this test
	}
	var ev struct {
		Type     string `json:"type"`
		Version  int    `json:"version"`
		Sequence string `json:"sequence"`
		Data     any    `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return err.Error()
	}
	sch, ok := catalogue.schemas[ev.Type]
	switch {
	case !ok:
		return "type " + ev.Type + " is not in the catalogue"
	case ev.Version != outbox.PayloadVersion:
		return fmt.Sprintf("version %d", ev.Version)
	case (ev.Sequence == "") != (ev.Type == string(outbox.WebhookTest)):
		return "sequence " + ev.Sequence
	}
	if err := sch.Validate(ev.Data); err != nil {
		return "data does not match the catalogue's schema of " + ev.Type + ": " + err.Error()
	}
	catalogue.mu.Lock()
	catalogue.checked[ev.Type]++
	catalogue.mu.Unlock()
	return ""
}

// catalogueCovered fails a whole run of the suite in which some event type
// was never delivered to a receiver (so never checked against its schema).
func catalogueCovered() error {
	if !testenv.WholeRun() || catalogue.schemas == nil {
		return nil
	}
	catalogue.mu.Lock()
	defer catalogue.mu.Unlock()
	var missing []string
	for _, t := range outbox.Types {
		if catalogue.checked[string(t)] == 0 {
			missing = append(missing, string(t))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no delivery of %s was checked against the event catalogue", strings.Join(missing, ", "))
	}
	return nil
}

// public calls the API without a token.
func (c *client) public(want int, method, path string) map[string]any {
	c.t.Helper()
	anon := *c
	anon.token = ""
	return anon.expect(want, method, path, nil)
}

// TestEventCatalogue: GET /v1/event-types answers without a token, lists
// every type once, each with a description and a schema that compiles.
func TestEventCatalogue(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Memory())
	c := e.account(0, "")
	loadCatalogue(c)
	if catalogue.err != nil {
		t.Fatal(catalogue.err)
	}
	got := c.public(200, "GET", "/v1/event-types")["event_types"].([]any)
	var types []outbox.Type
	for _, x := range got {
		et := x.(map[string]any)
		types = append(types, outbox.Type(et["type"].(string)))
		if d, _ := et["description"].(string); len(d) < 20 {
			t.Errorf("%s: description %q", et["type"], d)
		}
		if in := et["in_feed"].(bool); in == (et["type"] == string(outbox.WebhookTest)) {
			t.Errorf("%s: in_feed %v", et["type"], in)
		}
	}
	if !slices.Equal(types, outbox.Types) {
		t.Fatalf("the catalogue lists %v, want %v", types, outbox.Types)
	}
}
