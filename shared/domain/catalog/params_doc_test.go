package catalog

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestListingParametersDocumented: GET /v1/files in the OpenAPI document
// declares every query parameter ParseQuery accepts (in one of its
// spellings), and none it refuses, so generated clients can send them all.
func TestListingParametersDocumented(t *testing.T) {
	b, err := os.ReadFile("../../inbound/openapi/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]yaml.Node `yaml:"paths"`
		Components struct {
			Parameters map[string]struct {
				Name string `yaml:"name"`
			} `yaml:"parameters"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var get struct {
		Parameters []map[string]any `yaml:"parameters"`
	}
	node := doc.Paths["/v1/files"]["get"]
	if err := node.Decode(&get); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, p := range get.Parameters {
		name, _ := p["name"].(string)
		if ref, ok := p["$ref"].(string); ok {
			name = doc.Components.Parameters[strings.TrimPrefix(ref, "#/components/parameters/")].Name
		}
		if !knownParams[name] {
			t.Errorf("the document declares %q, which the listing refuses", name)
		}
		documented = append(documented, strings.TrimSuffix(name, "[]"))
	}
	for k, ok := range knownParams {
		if ok && !slices.Contains(documented, strings.TrimSuffix(k, "[]")) {
			t.Errorf("the listing accepts %q, which the document does not declare", k)
		}
	}
}
