package stack_test

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/anexo/anexo/infra/stack"
	"github.com/anexo/anexo/shared/adapters/dynamo"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/domain/webhooks"
	"github.com/anexo/anexo/shared/inbound/httpapi"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/iam"
)

func init() { _ = os.Setenv("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1") }

// assets makes a directory with a placeholder bootstrap per function.
// Every synthesizing test starts here; -short leaves them out.
func assets(t *testing.T) string {
	if testing.Short() {
		t.Skip("synthesizes the stack: not under -short")
	}
	dir := t.TempDir()
	files := map[string]string{ // and the console's build
		"console/index.html": "<!doctype html><div id=app></div>", "console/request.html": "<!doctype html><div id=app></div>", "console/assets/main-ABC.js": "export {}",
		"console/assets/main-ABC.css": "", "console/sizes.json": "{}"}
	for _, fn := range allFunctions() {
		files[fn+"/bootstrap"] = "#!/bin/sh\n"
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type synth struct {
	tpl assertions.Template
	doc map[string]any
}

func build(t *testing.T, p stack.Props) synth {
	t.Helper()
	p.AssetDir = assets(t)
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: featureFlags(t)})
	s := stack.New(app, "Anexo", p)
	stack.Nag(app)
	tpl := nagged(t, s)
	raw, _ := json.Marshal(tpl.ToJSON())
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return synth{tpl: tpl, doc: doc}
}

var defaultSynth *synth

// featureFlags are cdk.json's feature flags: the tests synthesize what
// cdk deploy does.
func featureFlags(t *testing.T) *map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cdk struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &cdk); err != nil {
		t.Fatal(err)
	}
	flags := map[string]any{}
	for k, v := range cdk.Context {
		if strings.HasPrefix(k, "@aws-cdk") {
			flags[k] = v
		}
	}
	return &flags
}

// TestFeatureFlags: cdk.json sets every feature flag to the value the
// pinned aws-cdk-lib recommends (what cdk init writes), so the stack is
// built as current CDK intends; an upgrade that adds flags fails here
// until cdk.json takes them.
func TestFeatureFlags(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-cdk-go/awscdk/v2").Output()
	if err != nil {
		t.Fatal(err)
	}
	tgz, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "jsii", "aws-cdk-lib-*.tgz"))
	if len(tgz) != 1 {
		t.Fatalf("aws-cdk-lib tarball: %v", tgz)
	}
	recommended := readTarJSON(t, tgz[0], "package/recommended-feature-flags.json")
	got := *featureFlags(t)
	for k, v := range recommended {
		if g, ok := got[k]; !ok || fmt.Sprint(g) != fmt.Sprint(v) {
			t.Errorf("cdk.json: %s = %v, recommended %v", k, g, v)
		}
	}
	if len(got) != len(recommended) {
		t.Errorf("cdk.json sets %d flags, aws-cdk-lib recommends %d", len(got), len(recommended))
	}
}

func readTarJSON(t *testing.T, path, name string) map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in %s: %v", name, path, err)
		}
		if h.Name == name {
			var m map[string]any
			if err := json.NewDecoder(tr).Decode(&m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
}

func defaults(t *testing.T) synth {
	if defaultSynth == nil {
		s := build(t, stack.Props{Console: true}) // as FromContext: the app builds the console by default
		defaultSynth = &s
	}
	return *defaultSynth
}

func (s synth) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.doc["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

func props(r map[string]any) map[string]any { return r["Properties"].(map[string]any) }

// one is the template's only resource of type typ: its logical id and
// itself; the test fails unless there is exactly one.
func (s synth) one(t *testing.T, typ string) (string, map[string]any) {
	t.Helper()
	rs := s.resources(typ)
	if len(rs) != 1 {
		t.Fatalf("%d %s resources, want 1", len(rs), typ)
	}
	for id, r := range rs {
		return id, r
	}
	return "", nil
}

// functionIDs maps function name → logical id (via ANEXO_FUNCTION).
func (s synth) functionIDs(t *testing.T) map[string]string {
	out := map[string]string{}
	for id, r := range s.resources("AWS::Lambda::Function") {
		env, _ := props(r)["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		name, ok := vars["ANEXO_FUNCTION"].(string)
		if !ok {
			continue // CDK's own handlers (bucket notifications, the console's deployment)
		}
		out[name] = id
	}
	if len(out) != len(allFunctions()) {
		t.Fatalf("functions in template: %v, want %v", out, allFunctions())
	}
	return out
}

func obj(m map[string]any) *map[string]any { return &m }

func allFunctions() []string { return lambdas.All() }

func TestFunctions(t *testing.T) {
	s := defaults(t)
	for _, name := range allFunctions() {
		spec := stack.Specs[name]
		s.tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), assertions.Match_ObjectLike(obj(map[string]any{
			"Runtime":       "provided.al2023",
			"Architectures": []any{"arm64"},
			"Handler":       "bootstrap",
			"MemorySize":    spec.MemoryMB,
			"Timeout":       spec.TimeoutSec,
			"LoggingConfig": map[string]any{"LogFormat": "JSON"},
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(obj(map[string]any{
				"ANEXO_FUNCTION": name,
				"TABLE_NAME":     assertions.Match_AnyValue(),
				"BUCKET_NAME":    assertions.Match_AnyValue(),
			}))},
		})))
		if spec.TimeoutSec >= 30 && slices.Contains(lambdas.HTTP, name) {
			t.Errorf("%s: timeout %v s exceeds the HTTP API integration limit", name, spec.TimeoutSec)
		}
	}
	// ours, plus the handlers CDK deploys to configure bucket notifications
	// and to copy the console's build
	s.tpl.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(float64(len(allFunctions())+2)))
	// S3 invokes the recorder for browser form uploads (POST policy)
	s.tpl.HasResourceProperties(jsii.String("Custom::S3BucketNotifications"), assertions.Match_ObjectLike(obj(map[string]any{
		"NotificationConfiguration": map[string]any{"LambdaFunctionConfigurations": []any{map[string]any{
			"Events":            []any{"s3:ObjectCreated:Post"},
			"LambdaFunctionArn": map[string]any{"Fn::GetAtt": []any{s.functionIDs(t)[lambdas.Recorder], "Arn"}},
		}}},
	})))
	s.tpl.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), assertions.Match_ObjectLike(obj(map[string]any{"RetentionInDays": 30})))
	s.tpl.ResourceCountIs(jsii.String("AWS::Logs::LogGroup"), jsii.Number(float64(len(allFunctions())+2))) // + API access logs, the console deployment's
	s.tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), assertions.Match_ObjectLike(obj(map[string]any{
		"ScheduleExpression": "rate(1 hour)", "State": "ENABLED",
		"Targets": []any{assertions.Match_ObjectLike(obj(map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{s.functionIDs(t)[lambdas.Sweeper], "Arn"}}}))},
	})))
}

func TestTable(t *testing.T) {
	s := defaults(t)
	in := dynamo.TableInput("x")
	s.tpl.HasResource(jsii.String("AWS::DynamoDB::Table"), obj(map[string]any{
		"DeletionPolicy":      "Retain",
		"UpdateReplacePolicy": "Retain",
		"Properties": assertions.Match_ObjectLike(obj(map[string]any{
			"BillingMode":                      "PAY_PER_REQUEST",
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"TimeToLiveSpecification":          map[string]any{"AttributeName": dynamo.AttrTTL, "Enabled": true},
			"KeySchema": []any{
				map[string]any{"AttributeName": *in.KeySchema[0].AttributeName, "KeyType": "HASH"},
				map[string]any{"AttributeName": *in.KeySchema[1].AttributeName, "KeyType": "RANGE"},
			},
			"GlobalSecondaryIndexes": []any{map[string]any{
				"IndexName": *in.GlobalSecondaryIndexes[0].IndexName,
				"KeySchema": []any{
					map[string]any{"AttributeName": dynamo.AttrGSI1PK, "KeyType": "HASH"},
					map[string]any{"AttributeName": dynamo.AttrGSI1SK, "KeyType": "RANGE"},
				},
				"Projection": map[string]any{"ProjectionType": "ALL"},
			}, map[string]any{
				"IndexName": *in.GlobalSecondaryIndexes[1].IndexName,
				"KeySchema": []any{
					map[string]any{"AttributeName": dynamo.AttrGSI2PK, "KeyType": "HASH"},
					map[string]any{"AttributeName": dynamo.AttrGSI2SK, "KeyType": "RANGE"},
				},
				"Projection": map[string]any{"ProjectionType": "ALL"},
			}},
		})),
	}))
}

// TestTracing: every function runs with X-Ray active tracing and records
// its AWS calls (ANEXO_TRACING: shared/platform/tracing's subsegments).
func TestTracing(t *testing.T) {
	s := defaults(t)
	for name, id := range s.functionIDs(t) {
		p := props(s.doc["Resources"].(map[string]any)[id].(map[string]any))
		if mode, _ := p["TracingConfig"].(map[string]any)["Mode"].(string); mode != "Active" {
			t.Errorf("%s: tracing %v", name, p["TracingConfig"])
		}
		if env := p["Environment"].(map[string]any)["Variables"].(map[string]any); env["ANEXO_TRACING"] != "1" {
			t.Errorf("%s does not record its AWS calls", name)
		}
	}
}

// TestKeysTable: the signing keys have a table of their own (no index), as
// protected as the metadata, which only the functions that sign or verify
// cursors and tickets may read (TestIAM checks each policy).
func TestKeysTable(t *testing.T) {
	s := defaults(t)
	in := dynamo.KeysTableInput("x")
	s.tpl.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(2))
	s.tpl.HasResource(jsii.String("AWS::DynamoDB::Table"), obj(map[string]any{
		"DeletionPolicy": "Retain",
		"Properties": assertions.Match_ObjectLike(obj(map[string]any{
			"DeletionProtectionEnabled":        true,
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"TimeToLiveSpecification":          map[string]any{"AttributeName": dynamo.AttrTTL, "Enabled": true},
			"KeySchema": []any{
				map[string]any{"AttributeName": *in.KeySchema[0].AttributeName, "KeyType": "HASH"},
				map[string]any{"AttributeName": *in.KeySchema[1].AttributeName, "KeyType": "RANGE"},
			},
			"GlobalSecondaryIndexes": assertions.Match_Absent(),
		})),
	}))
	readers := map[string]bool{}
	for fn, p := range iam.Policies {
		for _, st := range p {
			if st.Resource.Kind == iam.KindKeys {
				readers[fn] = true
			}
		}
	}
	want := map[string]bool{lambdas.SessionsOpen: true, lambdas.Companion: true, lambdas.Files: true, lambdas.Attachments: true, lambdas.Events: true,
		lambdas.Batches: true} // Kommo's relayed parts: their URLs
	if !maps.Equal(readers, want) {
		t.Fatalf("functions with access to the signing keys: %v, want %v", readers, want)
	}
}

func TestBucket(t *testing.T) {
	s := build(t, stack.Props{AllowedOrigins: []string{"https://crm.example.com", "https://app.example.com"}})
	s.tpl.HasResource(jsii.String("AWS::S3::Bucket"), obj(map[string]any{
		"DeletionPolicy": "Retain",
		"Properties": assertions.Match_ObjectLike(obj(map[string]any{
			"VersioningConfiguration": map[string]any{"Status": "Enabled"},
			"PublicAccessBlockConfiguration": map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true,
				"IgnorePublicAcls": true, "RestrictPublicBuckets": true},
			"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{
				map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}}}},
			"CorsConfiguration": map[string]any{"CorsRules": []any{assertions.Match_ObjectLike(obj(map[string]any{
				"AllowedOrigins": []any{"https://crm.example.com", "https://app.example.com"},
				"AllowedMethods": []any{"GET", "HEAD", "PUT", "POST"},
				"ExposedHeaders": []any{"ETag"},
			}))}},
			"LifecycleConfiguration": map[string]any{"Rules": []any{
				map[string]any{"Id": "abort-incomplete-multipart-uploads", "Status": "Enabled",
					"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": 1}},
				map[string]any{"Id": "purge-trash", "Status": "Enabled", "NoncurrentVersionExpiration": map[string]any{"NoncurrentDays": 30}},
				map[string]any{"Id": "remove-expired-delete-markers", "Status": "Enabled", "ExpiredObjectDeleteMarker": true},
				map[string]any{"Id": "expire-relay-pieces", "Status": "Enabled", "Prefix": "relay/", "ExpirationInDays": 2,
					"NoncurrentVersionExpiration": map[string]any{"NoncurrentDays": 1}},
			}},
		})),
	}))
	// SSL only.
	s.tpl.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), assertions.Match_ObjectLike(obj(map[string]any{
		"PolicyDocument": assertions.Match_ObjectLike(obj(map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(obj(map[string]any{"Effect": "Deny", "Action": "s3:*",
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}})),
		})})),
	})))
	s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), assertions.Match_ObjectLike(obj(map[string]any{
		"ProtocolType": "HTTP",
		"CorsConfiguration": assertions.Match_ObjectLike(obj(map[string]any{
			"AllowOrigins": []any{"https://crm.example.com", "https://app.example.com"},
			// a file request's page sends its link and passcode in headers of their own
			"AllowHeaders": []any{"Authorization", "Content-Type", "Idempotency-Key", "Anexo-File-Request", "Anexo-Passcode"},
			// every method a route uses (PUT: the entity directory; PATCH: webhooks)
			"AllowMethods": []any{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
			// a page reads a throttled answer's Retry-After
			"ExposeHeaders": []any{"Location", "Apigw-Requestid", "Retry-After"},
			"MaxAge":        3600,
		})),
	})))
}

func ref(v any) string {
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["Ref"].(string); ok {
			return r
		}
		if g, ok := x["Fn::GetAtt"].([]any); ok {
			return g[0].(string)
		}
		if j, ok := x["Fn::Join"].([]any); ok {
			for _, part := range j[1].([]any) {
				if r := ref(part); r != "" {
					return r
				}
			}
		}
	}
	return ""
}

// TestRoutes: each route of the route table (shared/inbound/httpapi) exists once, behind the
// authorizer, and reaches its function through a payload-2.0 integration.
func TestRoutes(t *testing.T) {
	s := defaults(t)
	fnIDs := s.functionIDs(t)
	integrations := s.resources("AWS::ApiGatewayV2::Integration")
	authzID, authorizer := s.one(t, "AWS::ApiGatewayV2::Authorizer")
	got := map[string]string{}
	for _, r := range s.resources("AWS::ApiGatewayV2::Route") {
		p := props(r)
		key := p["RouteKey"].(string)
		if _, dup := got[key]; dup {
			t.Fatalf("route %s defined twice", key)
		}
		if route, _ := httpapi.Find(key); route.Public {
			if p["AuthorizationType"] != "NONE" || p["AuthorizerId"] != nil {
				t.Errorf("public %s: authorization %v %v", key, p["AuthorizationType"], p["AuthorizerId"])
			}
		} else if p["AuthorizationType"] != "CUSTOM" || ref(p["AuthorizerId"]) != authzID {
			t.Errorf("%s: authorization %v %v", key, p["AuthorizationType"], p["AuthorizerId"])
		}
		integ := integrations[ref(p["Target"])]
		if integ == nil {
			t.Fatalf("%s: target %v is not an integration", key, p["Target"])
		}
		ip := props(integ)
		if ip["IntegrationType"] != "AWS_PROXY" || ip["PayloadFormatVersion"] != "2.0" {
			t.Errorf("%s: integration %v", key, ip)
		}
		got[key] = ref(ip["IntegrationUri"])
	}
	if len(got) != len(httpapi.All()) {
		t.Errorf("template has %d routes, the route table %d", len(got), len(httpapi.All()))
	}
	for _, r := range httpapi.All() {
		if got[r.Key()] != fnIDs[r.Function] {
			t.Errorf("%s reaches %s, want %s (%s)", r.Key(), got[r.Key()], fnIDs[r.Function], r.Function)
		}
	}
	s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Authorizer"), obj(map[string]any{
		"ApiId":                          assertions.Match_AnyValue(),
		"Name":                           assertions.Match_AnyValue(),
		"AuthorizerType":                 "REQUEST",
		"AuthorizerPayloadFormatVersion": "2.0",
		"EnableSimpleResponses":          true,
		"IdentitySource":                 []any{"$request.header.Authorization"},
		"AuthorizerResultTtlInSeconds":   60,
		"AuthorizerUri":                  assertions.Match_AnyValue(),
	}))
	uri, _ := json.Marshal(props(authorizer)["AuthorizerUri"])
	if !strings.Contains(string(uri), fnIDs[lambdas.Authorizer]) {
		t.Errorf("authorizer invokes %s", uri)
	}
}

// TestReadmeDeploy: the README's Deploy section says which routes skip the
// authorizer as the template does, and the lifecycle rule that aborts
// incomplete uploads never acts before a session may end.
func TestReadmeDeploy(t *testing.T) {
	s := defaults(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile("Routes without the authorizer: ([^\n]*\n[^\n]*)").FindSubmatch(readme)
	if line == nil {
		t.Fatal("README: no 'Routes without the authorizer' line")
	}
	public := map[string]bool{}
	for _, r := range s.resources("AWS::ApiGatewayV2::Route") {
		if p := props(r); p["AuthorizationType"] == "NONE" {
			public[p["RouteKey"].(string)] = true
		}
	}
	uppy, requests := 0, 0
	for key := range public {
		switch path := strings.SplitN(key, " ", 2)[1]; {
		case strings.HasPrefix(path, "/v1/uppy/{ticket}/s3/"):
			uppy++
		case strings.HasPrefix(path, httpapi.PublicRequestPath):
			requests++
		case !strings.Contains(string(line[1]), "`"+key+"`"):
			t.Errorf("README does not list %s among the routes without the authorizer", key)
		}
	}
	for what, n := range map[string]int{"`/v1/uppy/{ticket}/s3/…` routes": uppy, "`" + httpapi.PublicRequestPath + "…` routes": requests} {
		if want := fmt.Sprintf("%s (%s;", what, map[int]string{6: "six"}[n]); n == 0 || !strings.Contains(string(line[1]), want) {
			t.Errorf("README: %q does not count the %d %s", line[1], n, what)
		}
	}
	for _, r := range s.resources("AWS::S3::Bucket") {
		lc, _ := props(r)["LifecycleConfiguration"].(map[string]any)
		if lc == nil { // the previews': written whole, never by parts
			continue
		}
		for _, rule := range lc["Rules"].([]any) {
			if a, ok := rule.(map[string]any)["AbortIncompleteMultipartUpload"].(map[string]any); ok {
				if days := a["DaysAfterInitiation"].(float64); time.Duration(days)*24*time.Hour < upload.MaxSessionTTL {
					t.Errorf("incomplete uploads are aborted after %v days, before a session may end (%v)", days, upload.MaxSessionTTL)
				}
			}
		}
	}
}

// TestIAM: each function's role may do exactly what iam.Policies grants it
// (the policy local mode and every test enforce), each action on the
// resource the policy names (table, one index, bucket, objects); no
// wildcard actions; no managed policies beyond basic log writing.
func TestIAM(t *testing.T) {
	s := defaults(t)
	fnIDs := s.functionIDs(t)
	roleOf := map[string]string{}
	for name, id := range fnIDs {
		roleOf[ref(props(s.doc["Resources"].(map[string]any)[id].(map[string]any))["Role"])] = name
	}
	granted := map[string][]string{}
	for id, p := range s.resources("AWS::IAM::Policy") {
		pp := props(p)
		roles := pp["Roles"].([]any)
		if len(roles) == 1 && strings.HasPrefix(ref(roles[0]), "MalwareProtectionRole") {
			continue // GuardDuty's role, not a function's (TestMalwareProtection)
		}
		if len(roles) == 1 && strings.HasPrefix(ref(roles[0]), "CustomCDKBucketDeployment") {
			continue // CDK's deploy-time copy of the console's build (TestConsoleStack)
		}
		for _, st := range pp["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			stm := st.(map[string]any)
			var acts []string
			switch a := stm["Action"].(type) {
			case string:
				acts = []string{a}
			case []any:
				for _, x := range a {
					acts = append(acts, x.(string))
				}
			}
			res, _ := json.Marshal(stm["Resource"])
			sort.Strings(acts)
			if string(res) == `"*"` { // active tracing: CDK's grant (X-Ray has no resource-level permissions)
				if acts = slices.DeleteFunc(acts, func(a string) bool { return a == "xray:PutTelemetryRecords" || a == "xray:PutTraceSegments" }); len(acts) == 0 {
					continue
				}
			}
			// a statement may name several resources (CDK's minimizePolicies
			// merges statements with the same actions): each is granted
			var list []any
			if l, ok := stm["Resource"].([]any); ok {
				list = l
			} else {
				list = []any{stm["Resource"]}
			}
			for _, one := range list {
				res, _ := json.Marshal(one)
				kind := resourceKind(t, string(res))
				if kind == "queue" { // Lambda delivers failed async invocations with the role (CDK's grantSendMessages), and so does the stream's mapping
					for _, r := range roles {
						fn := roleOf[ref(r)]
						if !slices.Contains(append([]string{lambdas.Dispatcher}, lambdas.Background...), fn) ||
							!slices.Equal(acts, []string{"sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"}) {
							t.Errorf("%s may %v on the async failures queue", fn, acts)
						}
					}
					continue
				}
				if kind == "stream" { // the dispatcher's mapping reads the table's stream with its role
					for _, r := range roles {
						if fn := roleOf[ref(r)]; fn != lambdas.Dispatcher || !slices.Equal(acts, []string{"dynamodb:DescribeStream",
							"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}) {
							t.Errorf("%s may %v on the table's stream", fn, acts)
						}
					}
					continue
				}
				for _, a := range acts {
					if strings.Contains(a, "*") {
						t.Errorf("policy %s grants wildcard action %s", id, a)
					}
					for _, r := range roles {
						granted[roleOf[ref(r)]] = append(granted[roleOf[ref(r)]], a+" on "+kind+conditionOf(stm["Condition"]))
					}
				}
			}
		}
	}
	for name, p := range iam.Policies {
		var want []string
		for _, st := range p {
			for _, a := range st.Actions {
				var c any
				if m := st.Condition.IAM(); m != nil {
					c = m
				}
				want = append(want, iam.Access{Action: a, Resource: st.Resource}.String()+conditionOf(c))
			}
		}
		got := granted[name]
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s may do %v, want exactly %v", name, got, want)
		}
	}
	// managed policies: a function's basic execution role, AWS Backup's
	// own (backups and restores, S3's too)
	allowed := regexp.MustCompile(`^:iam::aws:policy/(service-role/AWSLambdaBasicExecutionRole|(service-role/)?AWSBackupServiceRolePolicyFor(Backup|Restores|S3Backup|S3Restore))$`)
	for id, r := range s.resources("AWS::IAM::Role") {
		arns, _ := props(r)["ManagedPolicyArns"].([]any)
		for _, arn := range arns {
			parts := arn.(map[string]any)["Fn::Join"].([]any)[1].([]any)
			if tail, _ := parts[len(parts)-1].(string); !allowed.MatchString(tail) {
				t.Errorf("role %s has managed policy %v", id, arn)
			}
		}
	}
}

// resourceKind names a statement's one resource as iam.Resource does.
func resourceKind(t *testing.T, res string) string {
	t.Helper()
	index := regexp.MustCompile(`/index/([A-Za-z0-9_.-]+)"`)
	switch {
	case res == `"*"`: // account-level actions only (iam.KindMalwareScans): each checked against the policies
		return iam.Resource{Kind: iam.KindMalwareScans}.String()
	case strings.Contains(res, `"*"`):
		t.Fatalf("a statement on resource *: %s", res)
	case strings.Contains(res, "AsyncFailures"):
		return "queue"
	case strings.Contains(res, "StreamArn"):
		return "stream"
	case strings.Contains(res, `"Deliveries`) && !strings.Contains(res, "DLQ"):
		return "deliveries queue"
	case strings.Contains(res, `"DeliveriesDLQ`):
		return "deliveries dead-letter queue"
	case strings.Contains(res, `"Events`):
		return "event bus"
	case strings.Contains(res, "Metadata") && index.MatchString(res):
		return "table/index/" + index.FindStringSubmatch(res)[1]
	case strings.Contains(res, "Metadata") && strings.Contains(res, "/index/"):
		t.Fatalf("a statement on every index: %s", res)
	case strings.Contains(res, "Metadata"):
		return "table"
	case strings.Contains(res, "SigningKeys"):
		return "keys table"
	case strings.Contains(res, `"Previews`) && strings.Contains(res, `/*"`):
		return iam.Resource{Kind: iam.KindPreviews}.String()
	case strings.Contains(res, "Files") && strings.Contains(res, `/*"`):
		return "bucket/*"
	case strings.Contains(res, "Files"):
		return "bucket"
	}
	t.Fatalf("a statement on an unknown resource: %s", res)
	return ""
}

func TestStageThrottleAlarmsOutputs(t *testing.T) {
	s := build(t, stack.Props{StageName: "prod", ThrottleRate: 50, ThrottleBurst: 75, AlarmEmail: "ops@example.com", AuthorizerTTL: 120})
	s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), assertions.Match_ObjectLike(obj(map[string]any{
		"StageName":            "prod",
		"AutoDeploy":           true,
		"DefaultRouteSettings": map[string]any{"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 75},
	})))
	s.tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Authorizer"), assertions.Match_ObjectLike(obj(map[string]any{"AuthorizerResultTtlInSeconds": 120})))
	n := len(allFunctions())
	// errors, throttles and duration near the timeout per function,
	// AsyncEventsDropped per background function, the dispatcher's
	// iterator age, the sweeper's heartbeat; the API's 5xx and 4xx rates
	// and p99 latency, failed async invocations queued, DynamoDB
	// throttling, webhook deliveries given up or stuck, the account's
	// concurrency; and, the prod stage deploying by canary (the default),
	// the new version's errors per function
	s.tpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Alarm"), jsii.Number(float64(4*n+len(lambdas.Background)+2+8)))
	s.tpl.ResourceCountIs(jsii.String("AWS::CodeDeploy::DeploymentGroup"), jsii.Number(float64(n)))
	s.tpl.HasResourceProperties(jsii.String("AWS::CodeDeploy::DeploymentGroup"), assertions.Match_ObjectLike(obj(map[string]any{
		"DeploymentConfigName": "CodeDeployDefault.LambdaCanary10Percent5Minutes"})))
	for metric, want := range map[string]int{"Errors": 2 * n, "Throttles": n} {
		found := 0
		for _, a := range s.resources("AWS::CloudWatch::Alarm") {
			m, _ := json.Marshal(props(a))
			if strings.Contains(string(m), `"MetricName":"`+metric+`"`) && strings.Contains(string(m), "AWS/Lambda") {
				found++
			}
		}
		if found != want {
			t.Errorf("%d %s alarms, want %d", found, metric, want)
		}
	}
	// rates, not counts, in 3 of 5 periods
	for _, a := range s.resources("AWS::CloudWatch::Alarm") {
		m, _ := json.Marshal(props(a))
		if strings.Contains(string(m), `"MetricName":"5xx"`) && (!strings.Contains(string(m), "100 * part / whole") ||
			props(a)["DatapointsToAlarm"] != 3.0 || props(a)["EvaluationPeriods"] != 5.0) {
			t.Errorf("the 5xx alarm is not a rate in 3 of 5 periods: %s", m)
		}
	}
	s.tpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), obj(map[string]any{
		"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": assertions.Match_AnyValue()}))
	for _, o := range []string{"ApiUrl", "TableName", "BucketName"} {
		s.tpl.HasOutput(jsii.String(o), obj(map[string]any{"Value": assertions.Match_AnyValue()}))
	}
}

// TestAsyncFailures: the functions S3 and the schedule invoke retry twice,
// then send the event to the AsyncFailures queue (encrypted, kept 14
// days); EventBridge sends what it cannot deliver there too; a queued
// message and a dropped event both alarm.
func TestAsyncFailures(t *testing.T) {
	s := defaults(t)
	s.tpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), assertions.Match_ObjectLike(obj(map[string]any{
		"MessageRetentionPeriod": 14 * 24 * 3600, "SqsManagedSseEnabled": true})))
	queue := ""
	for id := range s.resources("AWS::SQS::Queue") {
		if strings.HasPrefix(id, "AsyncFailures") {
			queue = id
		}
	}
	fnIDs := s.functionIDs(t)
	configs := s.resources("AWS::Lambda::EventInvokeConfig")
	for _, fn := range lambdas.Background {
		found := false
		for _, c := range configs {
			p := props(c)
			dest, _ := json.Marshal(p["DestinationConfig"])
			if ref(p["FunctionName"]) == fnIDs[fn] && p["MaximumRetryAttempts"] == 2.0 && strings.Contains(string(dest), queue) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s has no on-failure destination to %s: %v", fn, queue, configs)
		}
		s.tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), assertions.Match_ObjectLike(obj(map[string]any{
			"MetricName": "AsyncEventsDropped", "Namespace": "AWS/Lambda",
			"Dimensions": []any{map[string]any{"Name": "FunctionName", "Value": map[string]any{"Ref": fnIDs[fn]}}}})))
	}
	if len(configs) != len(lambdas.Background) {
		t.Errorf("%d event invoke configs, want %d", len(configs), len(lambdas.Background))
	}
	s.tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), assertions.Match_ObjectLike(obj(map[string]any{
		"Targets": []any{assertions.Match_ObjectLike(obj(map[string]any{
			"DeadLetterConfig": map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{queue, "Arn"}}},
			"RetryPolicy":      map[string]any{"MaximumRetryAttempts": 2}}))}})))
	s.tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), assertions.Match_ObjectLike(obj(map[string]any{
		"MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS"})))
}

// TestDashboard: one dashboard with the API's requests, errors and latency,
// each function's errors, throttles and duration, DynamoDB throttling and
// the async failures queue; latency per route only with detailed metrics
// (billed per route and metric), which are off by default.
func TestDashboard(t *testing.T) {
	body := func(s synth) string {
		_, dashboard := s.one(t, "AWS::CloudWatch::Dashboard")
		b, _ := json.Marshal(props(dashboard)["DashboardBody"])
		return string(b)
	}
	def := body(defaults(t))
	for _, want := range []string{"Function duration p99", "ThrottledRequests", "ApproximateNumberOfMessagesVisible", `\"5xx\"`, `\"4xx\"`} {
		if !strings.Contains(def, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	for _, name := range allFunctions() {
		if !strings.Contains(def, `\"label\":\"`+name+`\"`) {
			t.Errorf("dashboard lacks function %s", name)
		}
	}
	if strings.Contains(def, "per route") {
		t.Error("per-route latency on the dashboard without detailed metrics")
	}
	defaults(t).tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), assertions.Match_ObjectLike(obj(map[string]any{
		"DefaultRouteSettings": assertions.Match_ObjectLike(obj(map[string]any{"DetailedMetricsEnabled": false}))})))
	if detailed := body(custom(t)); !strings.Contains(detailed, "Latency p99 per route") || !strings.Contains(detailed, `\"Route\",\"GET /v1/files\"`) {
		t.Error("no per-route latency on the dashboard with detailed metrics")
	}
}

// TestOperations: what an ops team expects: JSON access logs with the
// request id, route, status, latencies and the authorizer's error; the
// table cannot be deleted by accident and the stack is termination
// protected unless context says otherwise; alarms on DynamoDB throttling
// and on any function running for 80% of its timeout.
func TestOperations(t *testing.T) {
	s := defaults(t)
	s.tpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), assertions.Match_ObjectLike(obj(map[string]any{"DeletionProtectionEnabled": true})))
	stages := s.resources("AWS::ApiGatewayV2::Stage")
	for _, st := range stages {
		logs := props(st)["AccessLogSettings"].(map[string]any)
		var line map[string]string
		if err := json.Unmarshal([]byte(logs["Format"].(string)), &line); err != nil {
			t.Fatalf("access log format is not JSON: %v", err)
		}
		for k, v := range map[string]string{"requestId": "$context.requestId", "routeKey": "$context.routeKey", "status": "$context.status",
			"latencyMs": "$context.responseLatency", "authorizerError": "$context.authorizer.error"} {
			if line[k] != v {
				t.Errorf("access log %s = %q, want %q", k, line[k], v)
			}
		}
		dest, _ := json.Marshal(logs["DestinationArn"])
		if !strings.Contains(string(dest), "ApiAccessLogs") {
			t.Errorf("access logs go to %s", dest)
		}
	}
	s.tpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), obj(map[string]any{"RetentionInDays": 30}))
	fnIDs := s.functionIDs(t)
	for name, spec := range stack.Specs {
		s.tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), assertions.Match_ObjectLike(obj(map[string]any{
			"MetricName": "Duration", "Statistic": "Maximum", "Threshold": spec.TimeoutSec * 800,
			"Dimensions": []any{map[string]any{"Name": "FunctionName", "Value": map[string]any{"Ref": fnIDs[name]}}}})))
	}
	found := false
	for _, a := range s.resources("AWS::CloudWatch::Alarm") {
		m, _ := json.Marshal(props(a)["Metrics"])
		if strings.Contains(string(m), "ThrottledRequests") {
			found = true
		}
	}
	if !found {
		t.Error("no alarm on DynamoDB throttled requests")
	}

	for ctx, want := range map[string]bool{"": true, "false": false} {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: featureFlags(t)})
		if ctx != "" {
			app.Node().SetContext(jsii.String("terminationProtection"), ctx)
		}
		p := stack.FromContext(app)
		p.AssetDir = assets(t)
		if got := *stack.New(app, "Anexo", p).TerminationProtection(); got != want {
			t.Errorf("terminationProtection=%q: %v, want %v", ctx, got, want)
		}
	}
}

// TestTwoEnvironments: two stages in one account are two stacks of one app
// (one stack name each, e.g. -c stackName=AnexoStaging): they synthesize
// side by side, and no resource carries a fixed physical name that would
// clash between them. A stage may pin its account and region.
func TestTwoEnvironments(t *testing.T) {
	out := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out), Context: featureFlags(t)})
	app.Node().SetContext(jsii.String("account"), "111111111111")
	app.Node().SetContext(jsii.String("region"), "sa-east-1")
	dir := assets(t)
	for _, name := range []string{"AnexoStaging", "AnexoProd"} {
		p := stack.FromContext(app)
		p.AssetDir = dir
		st := stack.New(app, name, p)
		if *st.Account() != "111111111111" || *st.Region() != "sa-east-1" {
			t.Fatalf("%s in %s/%s", name, *st.Account(), *st.Region())
		}
	}
	app.Synth(nil)
	physical := []string{"TableName", "BucketName", "FunctionName", "QueueName", "LogGroupName", "DashboardName", "RoleName", "TopicName", "AlarmName"}
	for _, name := range []string{"AnexoStaging", "AnexoProd"} {
		raw, err := os.ReadFile(filepath.Join(out, name+".template.json"))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		for id, r := range doc["Resources"].(map[string]any) {
			pr, _ := r.(map[string]any)["Properties"].(map[string]any)
			for _, k := range physical {
				if v, fixed := pr[k].(string); fixed {
					t.Errorf("%s: %s has a fixed %s %q", name, id, k, v)
				}
			}
		}
	}
}

// TestEnvironmentAgnostic: no account or region is baked into the template.
func TestEnvironmentAgnostic(t *testing.T) {
	raw, _ := json.Marshal(defaults(t).doc)
	if m := regexp.MustCompile(`\b\d{12}\b`).Find(raw); m != nil {
		t.Fatalf("template contains an account id %s", m)
	}
	for _, region := range []string{"us-east-1", "eu-west-1", "sa-east-1"} {
		if strings.Contains(string(raw), region) {
			t.Fatalf("template names region %s", region)
		}
	}
}

// TestEventRouting: the table streams new images; the dispatcher's mapping
// reads it from the oldest record, filtered to inserted outbox records, in
// batches of 100 retried 10 times (halved) before the failure queue; the
// deliveries queue (visibility 3 min, 4 days) moves a message whose every
// receive crashed to its dead-letter queue after webhooks.MaxReceives
// (the delivery function moves one after its last attempt: its URL is in
// the environment), which alarms; the delivery
// function reports failed items; the bus and the queue reach every
// function's environment; the bus's name is an output.
func TestEventRouting(t *testing.T) {
	s := defaults(t)
	fnIDs := s.functionIDs(t)
	s.tpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), assertions.Match_ObjectLike(obj(map[string]any{
		"StreamSpecification": map[string]any{"StreamViewType": "NEW_IMAGE"},
		"KeySchema":           assertions.Match_AnyValue(), "GlobalSecondaryIndexes": assertions.Match_AnyValue()})))
	var dlq string
	for id := range s.resources("AWS::SQS::Queue") {
		if strings.HasPrefix(id, "DeliveriesDLQ") {
			dlq = id
		}
	}
	s.tpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), assertions.Match_ObjectLike(obj(map[string]any{
		"VisibilityTimeout": 180, "MessageRetentionPeriod": 4 * 24 * 3600, "SqsManagedSseEnabled": true,
		"RedrivePolicy": map[string]any{"deadLetterTargetArn": map[string]any{"Fn::GetAtt": []any{dlq, "Arn"}}, "maxReceiveCount": webhooks.MaxReceives}})))
	maps := s.resources("AWS::Lambda::EventSourceMapping")
	if len(maps) != 2 {
		t.Fatalf("%d event source mappings", len(maps))
	}
	for _, m := range maps {
		p := props(m)
		switch ref(p["FunctionName"]) {
		case fnIDs[lambdas.Dispatcher]:
			pattern := p["FilterCriteria"].(map[string]any)["Filters"].([]any)[0].(map[string]any)["Pattern"]
			src, _ := json.Marshal(p["EventSourceArn"])
			if pattern != dynamo.StreamFilter || p["StartingPosition"] != "TRIM_HORIZON" || p["BatchSize"] != 100.0 ||
				p["MaximumRetryAttempts"] != 10.0 || p["BisectBatchOnFunctionError"] != true || !strings.Contains(string(src), "StreamArn") ||
				fmt.Sprint(p["FunctionResponseTypes"]) != "[ReportBatchItemFailures]" ||
				!strings.Contains(fmt.Sprint(p["DestinationConfig"]), "AsyncFailures") {
				t.Errorf("dispatcher's mapping: %v", p)
			}
		case fnIDs[lambdas.Deliveries]:
			if p["BatchSize"] != 10.0 || fmt.Sprint(p["FunctionResponseTypes"]) != "[ReportBatchItemFailures]" {
				t.Errorf("deliveries' mapping: %v", p)
			}
		default:
			t.Errorf("a mapping to %v", p["FunctionName"])
		}
	}
	s.tpl.ResourceCountIs(jsii.String("AWS::Events::EventBus"), jsii.Number(1))
	s.tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), assertions.Match_ObjectLike(obj(map[string]any{
		"MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS",
		"Dimensions": []any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": []any{dlq, "QueueName"}}}}})))
	s.tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), assertions.Match_ObjectLike(obj(map[string]any{
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(obj(map[string]any{
			"ANEXO_FUNCTION": lambdas.Deliveries, "EVENT_BUS_NAME": assertions.Match_AnyValue(), "DELIVERY_QUEUE_URL": assertions.Match_AnyValue(), "DELIVERY_DLQ_URL": assertions.Match_AnyValue()}))}})))
	s.tpl.HasOutput(jsii.String("EventBusName"), obj(map[string]any{"Value": assertions.Match_AnyValue()}))
	s.tpl.HasOutput(jsii.String("DeliveriesQueueUrl"), obj(map[string]any{"Value": assertions.Match_AnyValue()}))
}

var runbookRef = regexp.MustCompile(`docs/operations\.md#([a-z0-9-]+)\)`)

// TestAlarmsReachSomeone: without any alarm option the stack has a topic
// and every alarm notifies it, when it fires and when it clears; the
// paging alarms feed one composite alarm, which notifies it too; the
// sweeper's heartbeat breaches on missing data; with alarmTopicArn the
// alarms notify that topic and the stack makes none.
func TestAlarmsReachSomeone(t *testing.T) {
	s := defaults(t)
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (\S+)$`).FindAllStringSubmatch(string(doc), -1) {
		entries[m[1]] = true
	}
	topic, _ := s.one(t, "AWS::SNS::Topic")
	// the default template's alarms, and those only options add (canary)
	for _, tpl := range []synth{s, custom(t)} {
		dest, _ := tpl.one(t, "AWS::SNS::Topic")
		for id, a := range tpl.resources("AWS::CloudWatch::Alarm") {
			p := props(a)
			for _, k := range []string{"AlarmActions", "OKActions"} {
				acts, _ := p[k].([]any)
				if len(acts) != 1 || ref(acts[0]) != dest {
					t.Errorf("alarm %s: %s %v, want the topic %s", id, k, p[k], dest)
				}
			}
			if m := runbookRef.FindStringSubmatch(p["AlarmDescription"].(string)); m == nil || !entries[m[1]] {
				t.Errorf("alarm %s: no runbook entry in docs/operations.md for %q", id, p["AlarmDescription"])
			}
		}
	}
	_, composite := s.one(t, "AWS::CloudWatch::CompositeAlarm")
	p := props(composite)
	rule, _ := json.Marshal(p["AlarmRule"])
	for _, paging := range []string{"Api5xx", "ApiLatencyP99", "TableThrottled", "AuthorizerErrors"} {
		if !strings.Contains(string(rule), paging) {
			t.Errorf("the composite alarm leaves out %s: %s", paging, rule)
		}
	}
	if strings.Contains(string(rule), "SweeperHeartbeat") {
		t.Errorf("background work pages: %s", rule)
	}
	if acts, _ := p["AlarmActions"].([]any); len(acts) != 1 || ref(acts[0]) != topic {
		t.Errorf("the composite alarm notifies %v", p["AlarmActions"])
	}
	s.tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), assertions.Match_ObjectLike(obj(map[string]any{
		"MetricName": "Invocations", "Namespace": "AWS/Lambda", "ComparisonOperator": "LessThanThreshold",
		"TreatMissingData": "breaching", "Period": 3 * 3600})))
	s.tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), assertions.Match_ObjectLike(obj(map[string]any{
		"MetricName": "IteratorAge", "Namespace": "AWS/Lambda", "Threshold": 300000})))

	const arn = "arn:aws:sns:sa-east-1:123456789012:pager"
	imported := build(t, stack.Props{AlarmTopicARN: arn})
	imported.tpl.ResourceCountIs(jsii.String("AWS::SNS::Topic"), jsii.Number(0))
	for id, a := range imported.resources("AWS::CloudWatch::Alarm") {
		if acts, _ := props(a)["AlarmActions"].([]any); len(acts) != 1 || acts[0] != arn {
			t.Errorf("alarm %s notifies %v, want %s", id, acts, arn)
		}
	}
}

// nagged synthesizes the stack with cdk-nag's packs on (stack.Nag, which
// every synthesis here applies): an unsuppressed finding fails the test
// with the rule and the construct of each.
func nagged(t *testing.T, s *stack.Stack) (tpl assertions.Template) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		m := regexp.MustCompile(`found in: (\S+)`).FindStringSubmatch(fmt.Sprint(r))
		if m == nil {
			panic(r)
		}
		b, err := os.ReadFile(m[1])
		if err != nil {
			t.Fatalf("%v (%v)", r, err)
		}
		var report struct {
			PluginReports []struct {
				Violations []struct {
					Description         string
					ViolatingConstructs []struct{ ConstructPath string }
				}
			}
		}
		if err := json.Unmarshal(b, &report); err != nil {
			t.Fatal(err)
		}
		for _, p := range report.PluginReports {
			for _, v := range p.Violations {
				for _, c := range v.ViolatingConstructs {
					t.Errorf("cdk-nag: %s: %s", c.ConstructPath, strings.TrimSpace(v.Description))
				}
			}
		}
		t.FailNow()
	}()
	return assertions.Template_FromStack(s.Stack, nil)
}

// conditionOf renders a statement's Condition block for comparison ("" if none).
func conditionOf(c any) string {
	if c == nil {
		return ""
	}
	b, _ := json.Marshal(c)
	return " if " + string(b)
}
