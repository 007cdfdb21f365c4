// Package openapi holds the OpenAPI 3.1 description of every route
// (openapi.yaml), served by the API at GET /v1/openapi.json and checked in
// tests: every handler response of the end-to-end suite must validate.
package openapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
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
