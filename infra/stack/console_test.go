package stack_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestConsoleStack: the console's build goes to a private bucket that only
// its CloudFront distribution reads (origin access control, the bucket
// policy naming the distribution), served over HTTPS with the page's
// security headers — a Content-Security-Policy without inline code that
// admits the API and the buckets — and config.json naming the API; the
// page revalidates and each deploy invalidates it; ConsoleUrl is output.
func TestConsoleStack(t *testing.T) {
	s := defaults(t)
	dists := s.resources("AWS::CloudFront::Distribution")
	if len(dists) != 1 {
		t.Fatalf("%d distributions, want the console's", len(dists))
	}
	var distID string
	var cfg map[string]any
	for id, d := range dists {
		distID, cfg = id, d["Properties"].(map[string]any)["DistributionConfig"].(map[string]any)
	}
	if cfg["DefaultRootObject"] != "index.html" || cfg["HttpVersion"] != "http2and3" {
		t.Errorf("distribution: %v", cfg)
	}
	behavior := cfg["DefaultCacheBehavior"].(map[string]any)
	if behavior["ViewerProtocolPolicy"] != "redirect-to-https" || behavior["ResponseHeadersPolicyId"] == nil {
		t.Errorf("default behavior: %v", behavior)
	}
	origin := cfg["Origins"].([]any)[0].(map[string]any)
	if origin["OriginAccessControlId"] == nil {
		t.Errorf("the origin is not read through origin access control: %v", origin)
	}
	if len(s.resources("AWS::CloudFront::OriginAccessControl")) != 1 {
		t.Error("no origin access control")
	}
	policies := s.resources("AWS::CloudFront::ResponseHeadersPolicy")
	if len(policies) != 1 {
		t.Fatalf("%d response headers policies", len(policies))
	}
	for _, p := range policies {
		raw, _ := json.Marshal(p)
		doc := string(raw)
		for _, want := range []string{`"FrameOption":"DENY"`, `"ReferrerPolicy":"no-referrer"`, `"AccessControlMaxAgeSec":31536000`, "default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'",
			"frame-ancestors 'none'", "connect-src 'self' ", `{"Ref":"Api`, ".execute-api.", "RegionalDomainName"} {
			if !strings.Contains(doc, want) {
				t.Errorf("the console's headers lack %s: %s", want, doc)
			}
		}
		if strings.Contains(doc, "unsafe-inline") || strings.Contains(doc, "'unsafe-eval'") {
			t.Errorf("the console's policy allows inline code or eval: %s", doc)
		}
	}
	// the bucket: private, read by the distribution only
	var read bool
	for _, bp := range s.resources("AWS::S3::BucketPolicy") {
		raw, _ := json.Marshal(bp)
		doc := string(raw)
		if strings.Contains(doc, "cloudfront.amazonaws.com") {
			read = strings.Contains(doc, `"s3:GetObject"`) && strings.Contains(doc, "AWS:SourceArn") && strings.Contains(doc, distID)
		}
	}
	if !read {
		t.Error("no bucket policy lets the console's distribution (and it only, by AWS:SourceArn) read the bucket")
	}
	deployments := s.resources("Custom::CDKBucketDeployment")
	if len(deployments) != 2 {
		t.Fatalf("%d bucket deployments, want the assets' and the page's", len(deployments))
	}
	var page, assets bool
	for _, d := range deployments {
		raw, _ := json.Marshal(d["Properties"])
		doc := string(raw)
		switch {
		case strings.Contains(doc, "DistributionPaths") && strings.Contains(doc, "no-cache") && strings.Contains(doc, "config.json"):
			page = true
		case strings.Contains(doc, "immutable") && !strings.Contains(doc, "DistributionPaths"):
			assets = true
		}
	}
	if !page || !assets {
		t.Errorf("deployments: the page's (no-cache, invalidated, config.json) %v, the assets' (immutable) %v", page, assets)
	}
	// every bucket is retained: CloudFormation cannot delete one holding
	// objects, so a DESTROY policy would fail cdk destroy
	for id, b := range s.resources("AWS::S3::Bucket") {
		if b["DeletionPolicy"] != "Retain" || b["UpdateReplacePolicy"] != "Retain" {
			t.Errorf("bucket %s: DeletionPolicy %v, UpdateReplacePolicy %v, want Retain", id, b["DeletionPolicy"], b["UpdateReplacePolicy"])
		}
	}
	// file requests' links point at the console's request page
	var named bool
	for _, fn := range s.resources("AWS::Lambda::Function") {
		raw, _ := json.Marshal(fn["Properties"])
		named = named || strings.Contains(string(raw), `"ANEXO_REQUEST_PAGE":{"Fn::Join":["",["https://",{"Fn::GetAtt":["`+distID+`","DomainName"]},"/request.html"]]}`)
	}
	if !named {
		t.Error("no function names the console's request page (ANEXO_REQUEST_PAGE)")
	}
	if _, ok := s.doc["Outputs"].(map[string]any)["ConsoleUrl"]; !ok {
		t.Error("no ConsoleUrl output")
	}
}
