package stack_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/anexo/anexo/infra/cfnlint"
	"github.com/anexo/anexo/infra/stack"
)

// Managed CloudFront policies: no caching; every viewer header but Host.
const (
	cachingDisabled           = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	allViewerExceptHostHeader = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
)

// TestDomainAndEdge: a custom domain maps the stage; edge puts CloudFront
// (no caching, every header but Host) and a WAF ACL with a rate rule per
// IP and per Authorization value in front of the API. The template passes
// cfn-lint.
func TestDomainAndEdge(t *testing.T) {
	s := build(t, stack.Props{StackProps: awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("us-east-1")}},
		DomainName: "files.example.com", CertificateARN: "arn:aws:acm:us-east-1:123456789012:certificate/abc", Edge: true, EdgeRatePerIP: 500})
	s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::DomainName"), obj(map[string]any{
		"DomainName": "files.example.com",
		"DomainNameConfigurations": []any{assertions.Match_ObjectLike(obj(map[string]any{
			"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc", "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}))},
	}))
	s.tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::ApiMapping"), jsii.Number(1))
	acls := s.resources("AWS::WAFv2::WebACL")
	if len(acls) != 1 {
		t.Fatalf("%d web ACLs", len(acls))
	}
	var aclID string
	for id, acl := range acls {
		aclID = id
		p := props(acl)
		rules := p["Rules"].([]any)
		if p["Scope"] != "CLOUDFRONT" || len(rules) != 2 {
			t.Fatalf("web ACL %v", p)
		}
		ip := rules[0].(map[string]any)["Statement"].(map[string]any)["RateBasedStatement"].(map[string]any)
		tok := rules[1].(map[string]any)["Statement"].(map[string]any)["RateBasedStatement"].(map[string]any)
		header := tok["CustomKeys"].([]any)[0].(map[string]any)["Header"].(map[string]any)
		if ip["AggregateKeyType"] != "IP" || ip["Limit"] != float64(500) || tok["AggregateKeyType"] != "CUSTOM_KEYS" ||
			header["Name"] != "authorization" || tok["Limit"] != float64(10000) {
			t.Fatalf("rate rules %v %v", ip, tok)
		}
		if _, ok := rules[0].(map[string]any)["Action"].(map[string]any)["Block"]; !ok {
			t.Fatal("the rate rules do not block")
		}
	}
	dists := s.resources("AWS::CloudFront::Distribution")
	if len(dists) != 1 {
		t.Fatalf("%d distributions", len(dists))
	}
	for _, d := range dists {
		cfg := props(d)["DistributionConfig"].(map[string]any)
		b := cfg["DefaultCacheBehavior"].(map[string]any)
		if b["CachePolicyId"] != cachingDisabled || b["OriginRequestPolicyId"] != allViewerExceptHostHeader ||
			b["ViewerProtocolPolicy"] != "https-only" || len(b["AllowedMethods"].([]any)) != 7 {
			t.Fatalf("behavior %v", b)
		}
		if ref := cfg["WebACLId"].(map[string]any)["Fn::GetAtt"].([]any); ref[0] != aclID {
			t.Fatalf("distribution ACL %v", cfg["WebACLId"])
		}
	}
	for _, o := range []string{"DomainTarget", "DomainUrl", "EdgeUrl"} {
		if _, ok := s.doc["Outputs"].(map[string]any)[o]; !ok {
			t.Errorf("no output %s", o)
		}
	}
	cfnlint.Doc(t, s.doc)

	// defaults: none of it
	d := defaults(t)
	for _, typ := range []string{"AWS::CloudFront::Distribution", "AWS::WAFv2::WebACL", "AWS::ApiGatewayV2::DomainName"} {
		d.tpl.ResourceCountIs(jsii.String(typ), jsii.Number(0))
	}
}

// TestEdgeElsewhere: outside us-east-1 the edge takes an existing web ACL,
// and refuses to guess; a domain needs its certificate.
func TestEdgeElsewhere(t *testing.T) {
	env := awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("sa-east-1")}}
	acl := "arn:aws:wafv2:us-east-1:123456789012:global/webacl/anexo/1"
	s := build(t, stack.Props{StackProps: env, Edge: true, EdgeWebACLArn: acl})
	s.tpl.ResourceCountIs(jsii.String("AWS::WAFv2::WebACL"), jsii.Number(0))
	s.tpl.HasResourceProperties(jsii.String("AWS::CloudFront::Distribution"), obj(map[string]any{
		"DistributionConfig": assertions.Match_ObjectLike(obj(map[string]any{"WebACLId": acl}))}))
	for name, p := range map[string]stack.Props{
		"edge in sa-east-1 without an ACL": {StackProps: env, Edge: true},
		"edge without a region":            {Edge: true},
		"domain without a certificate":     {DomainName: "files.example.com"},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(strings.ToLower(r.(string)), "context") {
					t.Errorf("%s: %v", name, r)
				}
			}()
			build(t, p)
		}()
	}
}
