package stack_test

import (
	"encoding/json"
	"fmt"
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

// TestDomainAndEdge: without the edge a custom domain is a regional API
// Gateway domain mapped to the stage. With it, CloudFront (no caching,
// every header but Host, TLS 1.2) serves the domain, sends the origin
// secret, reaches the API at its regional origin domain (the execute-api
// endpoint off), and a WAF ACL puts AWS's managed rule groups (body rules
// counting) and a rate rule per IP and per Authorization value in front,
// logging with the token and the secret redacted. The authorizer takes
// the origin header as an identity source, and every function gets the
// secret. The template passes cfn-lint.
func TestDomainAndEdge(t *testing.T) {
	east := awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("us-east-1")}}
	cert := "arn:aws:acm:us-east-1:123456789012:certificate/abc"
	regional := build(t, stack.Props{StackProps: east, DomainName: "files.example.com", CertificateARN: cert})
	regional.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::DomainName"), obj(map[string]any{
		"DomainName": "files.example.com",
		"DomainNameConfigurations": []any{assertions.Match_ObjectLike(obj(map[string]any{
			"CertificateArn": cert, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}))},
	}))
	regional.tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::ApiMapping"), jsii.Number(1))
	regional.tpl.ResourceCountIs(jsii.String("AWS::CloudFront::Distribution"), jsii.Number(0))

	s := build(t, stack.Props{StackProps: east, DomainName: "files.example.com", CertificateARN: cert, Edge: true, EdgeRatePerIP: 500,
		EdgeOriginDomain: "origin.files.example.com"})
	// the only regional domain is CloudFront's origin
	s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::DomainName"), assertions.Match_ObjectLike(obj(map[string]any{"DomainName": "origin.files.example.com"})))
	s.tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::DomainName"), jsii.Number(1))
	s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), assertions.Match_ObjectLike(obj(map[string]any{"DisableExecuteApiEndpoint": true})))
	aclID, acl := s.one(t, "AWS::WAFv2::WebACL")
	p := props(acl)
	rules := p["Rules"].([]any)
	if p["Scope"] != "CLOUDFRONT" || len(rules) != 7 {
		t.Fatalf("web ACL %v", p)
	}
	var groups []string
	for _, r := range rules[:3] {
		st := r.(map[string]any)["Statement"].(map[string]any)["ManagedRuleGroupStatement"].(map[string]any)
		groups = append(groups, st["Name"].(string))
		if st["Name"] == "AWSManagedRulesCommonRuleSet" {
			b, _ := json.Marshal(st["RuleActionOverrides"])
			for _, body := range stack.BodyRulesCounted {
				if !strings.Contains(string(b), `{"ActionToUse":{"Count":{}},"Name":"`+body+`"}`) {
					t.Errorf("%s is not counted: %s", body, b)
				}
			}
		}
	}
	if strings.Join(groups, ",") != "AWSManagedRulesAmazonIpReputationList,AWSManagedRulesCommonRuleSet,AWSManagedRulesKnownBadInputsRuleSet" {
		t.Errorf("managed rule groups %v", groups)
	}
	ip := rules[3].(map[string]any)["Statement"].(map[string]any)["RateBasedStatement"].(map[string]any)
	tok := rules[4].(map[string]any)["Statement"].(map[string]any)["RateBasedStatement"].(map[string]any)
	header := tok["CustomKeys"].([]any)[0].(map[string]any)["Header"].(map[string]any)
	if ip["AggregateKeyType"] != "IP" || ip["Limit"] != float64(500) || tok["AggregateKeyType"] != "CUSTOM_KEYS" ||
		header["Name"] != "authorization" || tok["Limit"] != float64(10000) {
		t.Fatalf("rate rules %v %v", ip, tok)
	}
	for _, r := range rules[3:] {
		if _, ok := r.(map[string]any)["Action"].(map[string]any)["Block"]; !ok {
			t.Fatalf("rate rule %v does not block", r)
		}
	}
	// a file request's link: per address and per link, on the routes a
	// person calls once per file
	for i, key := range []string{"IP", "CUSTOM_KEYS"} {
		st := rules[5+i].(map[string]any)["Statement"].(map[string]any)["RateBasedStatement"].(map[string]any)
		scope, _ := json.Marshal(st["ScopeDownStatement"])
		if st["AggregateKeyType"] != key || !strings.Contains(string(scope), `"SearchString":"/v1/public/file-request"`) ||
			!strings.Contains(string(scope), `"SearchString":"/v1/public/file-request/uploads"`) {
			t.Fatalf("the request link's rule %d: %v", i, st)
		}
		if key == "CUSTOM_KEYS" && st["CustomKeys"].([]any)[0].(map[string]any)["Header"].(map[string]any)["Name"] != "anexo-file-request" {
			t.Fatalf("the per-link rule's key: %v", st["CustomKeys"])
		}
	}
	_, logging := s.one(t, "AWS::WAFv2::LoggingConfiguration")
	if b, _ := json.Marshal(props(logging)["RedactedFields"]); string(b) != `[{"SingleHeader":{"Name":"authorization"}},{"SingleHeader":{"Name":"x-origin-verify"}},`+
		`{"SingleHeader":{"Name":"anexo-file-request"}},{"SingleHeader":{"Name":"anexo-passcode"}}]` {
		t.Errorf("WAF log redactions: %s", b)
	}
	s.tpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), assertions.Match_ObjectLike(obj(map[string]any{"LogGroupName": "aws-waf-logs-Anexo"})))
	secretID, _ := s.one(t, "AWS::SecretsManager::Secret")
	_, d := s.one(t, "AWS::CloudFront::Distribution")
	cfg := props(d)["DistributionConfig"].(map[string]any)
	b := cfg["DefaultCacheBehavior"].(map[string]any)
	if b["CachePolicyId"] != cachingDisabled || b["OriginRequestPolicyId"] != allViewerExceptHostHeader ||
		b["ViewerProtocolPolicy"] != "https-only" || len(b["AllowedMethods"].([]any)) != 7 {
		t.Fatalf("behavior %v", b)
	}
	if ref := cfg["WebACLId"].(map[string]any)["Fn::GetAtt"].([]any); ref[0] != aclID {
		t.Fatalf("distribution ACL %v", cfg["WebACLId"])
	}
	origins, _ := json.Marshal(cfg["Origins"])
	if !strings.Contains(string(origins), `"DomainName":"origin.files.example.com"`) || !strings.Contains(string(origins), `"HeaderName":"X-Origin-Verify"`) ||
		!strings.Contains(string(origins), secretID) {
		t.Errorf("origin: %s", origins)
	}
	if vc := cfg["ViewerCertificate"].(map[string]any); fmt.Sprint(cfg["Aliases"]) != "[files.example.com]" || vc["AcmCertificateArn"] != cert ||
		vc["MinimumProtocolVersion"] != "TLSv1.2_2021" {
		t.Errorf("the domain is not CloudFront's: %v %v", cfg["Aliases"], cfg["ViewerCertificate"])
	}
	_, authz := s.one(t, "AWS::ApiGatewayV2::Authorizer")
	if fmt.Sprint(props(authz)["IdentitySource"]) != "[$request.header.Authorization $request.header.x-origin-verify]" {
		t.Errorf("authorizer identity %v", props(authz)["IdentitySource"])
	}
	for id, fn := range s.resources("AWS::Lambda::Function") {
		if env, ok := props(fn)["Environment"].(map[string]any); ok {
			if v, _ := json.Marshal(env["Variables"].(map[string]any)["ANEXO_ORIGIN_SECRET"]); !strings.Contains(string(v), secretID) {
				t.Errorf("%s has no origin secret: %s", id, v)
			}
		}
	}
	// CloudFront logs each viewer request to a bucket of its own (ACLs on:
	// CloudFront's standard logs need them), whose requests S3 logs
	cflog := cfg["Logging"].(map[string]any)
	if b, _ := json.Marshal(cflog); cflog["Prefix"] != "cloudfront/" || !strings.Contains(string(b), "EdgeLogs") {
		t.Errorf("distribution logging %s", b)
	}
	s.tpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), assertions.Match_ObjectLike(obj(map[string]any{
		"OwnershipControls":    map[string]any{"Rules": []any{map[string]any{"ObjectOwnership": "BucketOwnerPreferred"}}},
		"LoggingConfiguration": assertions.Match_ObjectLike(obj(map[string]any{"LogFilePrefix": "EdgeLogs/"})),
	})))
	for _, o := range []string{"DomainTarget", "DomainUrl", "EdgeUrl", "OriginTarget"} {
		if _, ok := s.doc["Outputs"].(map[string]any)[o]; !ok {
			t.Errorf("no output %s", o)
		}
	}
	cfnlint.Doc(t, s.doc)

	// defaults: none of it (the one distribution is the console's)
	def := defaults(t)
	for _, typ := range []string{"AWS::WAFv2::WebACL", "AWS::ApiGatewayV2::DomainName", "AWS::SecretsManager::Secret"} {
		def.tpl.ResourceCountIs(jsii.String(typ), jsii.Number(0))
	}
	for id := range def.resources("AWS::CloudFront::Distribution") {
		if !strings.HasPrefix(id, "ConsoleEdge") {
			t.Errorf("the defaults have distribution %s besides the console's", id)
		}
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
		"edge domain with a regional certificate": {StackProps: env, Edge: true, EdgeWebACLArn: acl, DomainName: "files.example.com",
			CertificateARN: "arn:aws:acm:sa-east-1:123456789012:certificate/abc"},
		"origin domain without edge": {EdgeOriginDomain: "origin.example.com"},
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
