package auth

import (
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestScopesDocumented: the OpenAPI document's POST /v1/tokens offers
// every scope a token may carry, and only those (a typed client refused
// webhooks:admin while the enum lacked it).
func TestScopesDocumented(t *testing.T) {
	b, err := os.ReadFile("../../inbound/openapi/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var post struct {
		RequestBody struct {
			Content map[string]struct {
				Schema struct {
					Properties struct {
						Scopes struct {
							Items struct {
								Enum []string `yaml:"enum"`
							} `yaml:"items"`
						} `yaml:"scopes"`
					} `yaml:"properties"`
				} `yaml:"schema"`
			} `yaml:"content"`
		} `yaml:"requestBody"`
	}
	node := doc.Paths["/v1/tokens"]["post"]
	if err := node.Decode(&post); err != nil {
		t.Fatal(err)
	}
	got := post.RequestBody.Content["application/json"].Schema.Properties.Scopes.Items.Enum
	var want []string
	for _, s := range AllScopes {
		want = append(want, string(s))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("POST /v1/tokens documents the scopes %v; tokens may carry %v", got, want)
	}
}
