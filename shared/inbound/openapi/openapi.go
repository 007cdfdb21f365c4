// Package openapi holds the OpenAPI 3.1 description of every route
// (openapi.yaml), served by the API at GET /v1/openapi.json and checked in
// tests: every handler response of the end-to-end suite must validate.
package openapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// YAML is the document as written.
//
//go:embed openapi.yaml
var YAML []byte

var (
	once   sync.Once
	doc    []byte
	docErr error
)

// JSON is the document as JSON (converted once).
func JSON() ([]byte, error) {
	once.Do(func() {
		var v any
		if docErr = yaml.Unmarshal(YAML, &v); docErr != nil {
			return
		}
		doc, docErr = json.Marshal(normalize(v))
	})
	return doc, docErr
}

// normalize turns YAML's map[any]any (never produced by yaml.v3 for
// string keys, but keys like 200 are ints) into JSON-encodable maps.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	}
	return v
}

const componentRef = "#/components/schemas/"

// Schema is the document's component schema name as a self-contained JSON
// Schema (2020-12, which OpenAPI 3.1's schemas are): the schemas it refers
// to, transitively, under $defs.
func Schema(name string) (map[string]any, error) {
	raw, err := JSON()
	if err != nil {
		return nil, err
	}
	var doc struct {
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	all := doc.Components.Schemas
	root, ok := all[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi: no schema %s", name)
	}
	defs := map[string]any{}
	var missing error
	var rewrite func(v any) any
	rewrite = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				if ref, ok := e.(string); ok && k == "$ref" && strings.HasPrefix(ref, componentRef) {
					dep := strings.TrimPrefix(ref, componentRef)
					if _, done := defs[dep]; !done {
						defs[dep] = nil // being rewritten: a cycle stops here
						if all[dep] == nil {
							missing = fmt.Errorf("openapi: %s refers to no schema %s", name, dep)
						}
						defs[dep] = rewrite(all[dep])
					}
					out[k] = "#/$defs/" + dep
					continue
				}
				out[k] = rewrite(e)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = rewrite(e)
			}
			return out
		}
		return v
	}
	out := rewrite(root).(map[string]any)
	if missing != nil {
		return nil, missing
	}
	out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	out["title"] = name
	if len(defs) > 0 {
		out["$defs"] = defs
	}
	return out, nil
}

// BusEvent is the JSON Schema (2020-12) of an entry of the stack's
// EventBridge bus as a rule hands it to its targets: EventBridge's
// envelope (source anexo, detail-type the event's type) with the event,
// DeliveredEvent, as its detail. events/bus/event.schema.json is it,
// written by make bus-schema.
func BusEvent() (map[string]any, error) {
	detail, err := Schema("DeliveredEvent")
	if err != nil {
		return nil, err
	}
	defs, _ := detail["$defs"].(map[string]any)
	delete(detail, "$defs")
	delete(detail, "$schema")
	if defs == nil {
		defs = map[string]any{}
	}
	defs["DeliveredEvent"] = detail
	str := map[string]any{"type": "string"}
	return map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         "https://github.com/anexo/anexo/events/bus/event.schema.json",
		"title":       "Anexo event on EventBridge",
		"description": "An entry of the stack's bus (stack output EventBusName) as a rule's target receives it: source anexo, detail-type the event's type, detail the event with its account_id. Filter one account's events with a rule pattern on detail.account_id.",
		"type":        "object",
		"required":    []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"},
		"properties": map[string]any{
			"version":     map[string]any{"const": "0"},
			"id":          map[string]any{"type": "string", "description": "EventBridge's id of the entry (not the event's: that is detail.id)"},
			"detail-type": map[string]any{"$ref": "#/$defs/EventType"},
			"source":      map[string]any{"const": "anexo"},
			"account":     map[string]any{"type": "string", "pattern": "^[0-9]{12}$", "description": "the AWS account of the bus"},
			"time":        map[string]any{"type": "string", "format": "date-time"},
			"region":      str,
			"resources":   map[string]any{"type": "array", "items": str, "maxItems": 0},
			"detail":      map[string]any{"$ref": "#/$defs/DeliveredEvent"},
		},
		"additionalProperties": false,
		"$defs":                defs,
	}, nil
}
