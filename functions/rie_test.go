// Package functions_test runs every built Lambda bootstrap under the AWS
// Lambda Runtime Interface Emulator (aws-lambda-rie), invoked with the
// events/ samples, against moto_server-backed storage.
package functions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/anexo/anexo/infra/lambdabuild"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/inbound/openapi/openapitest"
	"github.com/anexo/anexo/shared/testing/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func rieBinary(t testing.TB) string {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "aws-lambda-rie")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("aws-lambda-rie is required in CI (.ci/run installs it)")
	}
	t.Skip("aws-lambda-rie not installed: go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d")
	return ""
}

// lambda is one bootstrap running under the emulator.
type lambda struct {
	url  string
	cmd  *exec.Cmd
	logs *testenv.Output
	api  *openapitest.Checker
}

func startLambda(t testing.TB, rie, bootstrap string, env []string) *lambda {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	l := &lambda{url: "http://" + addr + "/2015-03-31/functions/function/invocations", logs: &testenv.Output{}}
	l.cmd = exec.Command(rie, "--runtime-interface-emulator-address", addr, bootstrap)
	l.cmd.Env = append(os.Environ(), env...)
	l.cmd.Stdout, l.cmd.Stderr = l.logs, l.logs
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.stop)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return l
		}
		if i > 100 {
			t.Fatalf("aws-lambda-rie did not listen: %s", l.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *lambda) stop() {
	if l.cmd.Process != nil {
		_ = l.cmd.Process.Kill()
		_ = l.cmd.Wait()
	}
}

func (l *lambda) invoke(t *testing.T, event []byte) map[string]any {
	t.Helper()
	resp, err := http.Post(l.url, "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("invoke: %d %s\nlogs:\n%s", resp.StatusCode, b, l.logs)
	}
	// an HTTP API answer must match the OpenAPI document
	var req events.APIGatewayV2HTTPRequest
	var res events.APIGatewayV2HTTPResponse
	if json.Unmarshal(event, &req) == nil && req.RouteKey != "" && json.Unmarshal(b, &res) == nil && res.StatusCode != 0 {
		if l.api == nil {
			l.api = openapitest.New(t)
		}
		l.api.Observe(httptest.NewRequest(req.RequestContext.HTTP.Method, req.RawPath, nil), res)
	}
	return out
}

// buildBootstrap builds a function's bootstrap as the CDK app does (for
// goarch: the host's to run it here, arm64 as deployed).
func buildBootstrap(t testing.TB, dir, fn, goarch string) string {
	t.Helper()
	out := filepath.Join(dir, goarch, fn, "bootstrap")
	if b, err := lambdabuild.Command(context.Background(), root(), fn, goarch, out).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", fn, err, b)
	}
	return out
}

func event(t testing.TB, name string, sessionID string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(), "events", name))
	if err != nil {
		t.Fatal(err)
	}
	if sessionID != "" {
		b = bytes.ReplaceAll(b, []byte("5f0c7a52-3f3e-4c7b-9a51-0c2a4e1f9b11"), []byte(sessionID))
	}
	return b
}

func body(t *testing.T, resp map[string]any) map[string]any {
	var m map[string]any
	if s, _ := resp["body"].(string); s != "" {
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("body %q: %v", s, err)
		}
	}
	return m
}

const sampleAccount = "00000000-0000-4000-8000-000000000001"

// sampleSecret is the secret of the token the sample events carry (its
// secret_id in their authorizer context).
const sampleSecret = "anx_samplesamplesamplesamplesamplesamplesamples"

func TestBootstrapsUnderRIE(t *testing.T) {
	rie := rieBinary(t)
	be := testenv.MotoBackend(t)
	cfg := testenv.Config(be)
	// moto serves SQS and EventBridge too: the deliveries queue and the bus
	cfg.SQSEndpoint, cfg.EventsEndpoint, cfg.BusName = be.Dynamo, be.Dynamo, cfg.Table
	d := testenv.Connect(t, cfg)
	ctx := context.Background()
	// The account and token the sample events carry.
	if err := d.Store().PutAccount(ctx, auth.Account{ID: sampleAccount, Name: "sample", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := d.Store().PutToken(ctx, auth.Token{ID: "00000000-0000-4000-8000-000000000002", AccountID: sampleAccount, Name: "sample",
		Hash: auth.HashToken(sampleSecret), Scopes: auth.AllScopes, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	env := []string{"TABLE_NAME=" + cfg.Table, "BUCKET_NAME=" + cfg.Bucket, "AWS_REGION=us-east-1",
		"DYNAMODB_ENDPOINT=" + be.Dynamo, "S3_ENDPOINT=" + be.S3, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"SQS_ENDPOINT=" + be.Dynamo, "EVENTS_ENDPOINT=" + be.Dynamo, "EVENT_BUS_NAME=" + cfg.BusName, "DELIVERY_QUEUE_URL=" + d.Cfg.QueueURL}
	build := func(fn string) string { return buildBootstrap(t, bin, fn, runtime.GOARCH) }
	initMs := regexp.MustCompile(`INIT REPORT.*?durationMs: ?([0-9.]+)`)
	run := func(fn string, f func(l *lambda)) {
		t.Run(fn, func(t *testing.T) {
			// as in the stack: the function knows its name; here its IAM
			// policy is enforced on every AWS call, as AWS would
			l := startLambda(t, rie, build(fn), append(env, "ANEXO_FUNCTION="+fn, "ANEXO_ENFORCE_POLICY=1"))
			f(l)
			l.stop()
			if strings.Contains(l.logs.String(), "iam: access denied") {
				t.Errorf("%s made AWS calls its IAM policy refuses:\n%s", fn, l.logs)
			}
			if m := initMs.FindStringSubmatch(l.logs.String()); m != nil {
				t.Logf("%s cold init %s ms", fn, m[1])
			}
			if !strings.Contains(l.logs.String(), `"request_id"`) && fn != "authorizer" {
				t.Errorf("%s wrote no JSON log with a request id:\n%s", fn, l.logs)
			}
		})
	}
	status := func(t *testing.T, resp map[string]any, want int) map[string]any {
		t.Helper()
		if int(resp["statusCode"].(float64)) != want {
			t.Fatalf("status %v, want %d: %v", resp["statusCode"], want, resp)
		}
		return body(t, resp)
	}

	run("authorizer", func(l *lambda) {
		ok := l.invoke(t, event(t, "authorizer/token.json", ""))
		if ok["isAuthorized"] != true || ok["context"].(map[string]any)["account_id"] != sampleAccount {
			t.Fatalf("sample token: %v", ok)
		}
		bad := l.invoke(t, event(t, "authorizer/unknown-token.json", ""))
		if bad["isAuthorized"] != false || bad["context"] != nil {
			t.Fatalf("unknown token: %v", bad)
		}
	})
	var sessionID string
	run("sessions-open", func(l *lambda) {
		b := status(t, l.invoke(t, event(t, "sessions-open/open.json", "")), 201)
		if b["part_count"].(float64) != 3 || len(b["parts"].([]any)) != 3 {
			t.Fatalf("open: %v", b)
		}
		sessionID = b["id"].(string)
		if b := status(t, l.invoke(t, event(t, "sessions-open/open-invalid.json", "")), 400); b["field"] == nil {
			t.Fatalf("invalid open: %v", b)
		}
	})
	if sessionID == "" {
		t.Fatal("no session opened")
	}
	run("sessions-parts", func(l *lambda) {
		b := status(t, l.invoke(t, event(t, "sessions-parts/parts.json", sessionID)), 200)
		if len(b["parts"].([]any)) != 3 {
			t.Fatalf("parts: %v", b)
		}
		b = status(t, l.invoke(t, event(t, "sessions-parts/status.json", sessionID)), 200)
		if b["session"].(map[string]any)["status"] != "open" || len(b["missing_parts"].([]any)) != 3 {
			t.Fatalf("status: %v", b)
		}
		status(t, l.invoke(t, event(t, "sessions-parts/status.json", "")), 404)
	})
	run("sessions-complete", func(l *lambda) {
		if b := status(t, l.invoke(t, event(t, "sessions-complete/complete.json", sessionID)), 409); b["code"] != "parts_missing" {
			t.Fatalf("complete without parts: %v", b)
		}
		status(t, l.invoke(t, event(t, "sessions-complete/abort.json", sessionID)), 204)
		if b := status(t, l.invoke(t, event(t, "sessions-complete/complete.json", sessionID)), 409); b["code"] != "session_aborted" {
			t.Fatalf("complete after abort: %v", b)
		}
	})
	run("sweeper", func(l *lambda) {
		if resp := l.invoke(t, event(t, "sweeper/scheduled.json", "")); resp["errorMessage"] != nil {
			t.Fatalf("sweeper: %v", resp)
		}
		if !l.logs.WaitFor(`"purged":0`) {
			t.Fatalf("sweeper did not log its sweep:\n%s", l.logs)
		}
	})
	run("files", func(l *lambda) {
		for _, name := range []string{"files/get.json", "files/download.json", "files/versions.json", "files/version.json", "files/promote.json"} {
			if b := status(t, l.invoke(t, event(t, name, "")), 404); b["code"] != "file_not_found" {
				t.Fatalf("%s: %v", name, b)
			}
		}
		b := status(t, l.invoke(t, event(t, "files/list.json", "")), 200)
		if page := b["_page"].(map[string]any); page["count"].(float64) != 0 || page["limit"].(float64) != 50 {
			t.Fatalf("list: %v", b)
		}
		if b := status(t, l.invoke(t, event(t, "files/usage.json", "")), 200); b["used_bytes"].(float64) != 0 {
			t.Fatalf("usage: %v", b)
		}
		for _, name := range []string{"files/trash.json", "files/restore.json", "files/purge.json"} {
			b := status(t, l.invoke(t, event(t, name, "")), 207)
			item := b["_embedded"].(map[string]any)["files"].([]any)[0].(map[string]any)
			if item["status"] != "error" || item["error"].(map[string]any)["code"] != "file_not_found" {
				t.Fatalf("%s: %v", name, b)
			}
		}
	})
	run("attachments", func(l *lambda) {
		b := status(t, l.invoke(t, event(t, "attachments/upsert.json", "")), 201)
		if b["code"].(float64) != 4521 || b["title"] != "Lead: Acme Ltda" {
			t.Fatalf("upsert: %v", b)
		}
		if b := status(t, l.invoke(t, event(t, "attachments/get.json", "")), 200); b["uuid"] != "0190a7c4-5b6e-7d2f-9a1b-2c3d4e5f6a7b" {
			t.Fatalf("get by code: %v", b)
		}
		b = status(t, l.invoke(t, event(t, "attachments/attach.json", "")), 207)
		for _, x := range b["_embedded"].(map[string]any)["attachments"].([]any) {
			if x.(map[string]any)["error"].(map[string]any)["code"] != "file_not_found" {
				t.Fatalf("attach: %v", b)
			}
		}
		b = status(t, l.invoke(t, event(t, "attachments/detach.json", "")), 200)
		if b["_embedded"].(map[string]any)["attachments"].([]any)[0].(map[string]any)["status"] != "not_attached" {
			t.Fatalf("detach: %v", b)
		}
		if b := status(t, l.invoke(t, event(t, "attachments/list.json", "")), 200); b["_page"].(map[string]any)["count"].(float64) != 0 {
			t.Fatalf("list: %v", b)
		}
		status(t, l.invoke(t, event(t, "attachments/usages.json", "")), 404)
		// ONLYOFFICE's route answers in its own envelope
		if b := status(t, l.invoke(t, event(t, "attachments/onlyoffice.json", "")), 404); b["status"].(float64) != 1 || b["statusCode"].(float64) != 404 {
			t.Fatalf("onlyoffice: %v", b)
		}
	})
	// after "attachments": the sample lead exists
	run("batches", func(l *lambda) {
		b := status(t, l.invoke(t, event(t, "batches/create.json", "")), 201)
		if b["files_count"].(float64) != 2 || b["source"].(float64) != 1 || b["crm_lead"].(map[string]any)["title"] != "Lead: Acme Ltda" {
			t.Fatalf("create: %v", b)
		}
		if u := b["files"].([]any)[0].(map[string]any)["file_url"].(string); !strings.HasPrefix(u, "https://api.example.com/v1/files/") {
			t.Fatalf("file_url: %s", u)
		}
		if b := status(t, l.invoke(t, event(t, "batches/get.json", "")), 404); b["code"] != "batch_not_found" {
			t.Fatalf("get: %v", b)
		}
	})
	run("companion", func(l *lambda) {
		// the sample's ticket is not signed with this deployment's key
		if b := status(t, l.invoke(t, event(t, "companion/create.json", "")), 401); b["code"] != "invalid_ticket" {
			t.Fatalf("companion: %v", b)
		}
	})
	run("recorder", func(l *lambda) {
		// an object no form upload is waiting for is ignored
		if resp := l.invoke(t, event(t, "recorder/s3-post.json", "")); resp["errorMessage"] != nil {
			t.Fatalf("recorder: %v", resp)
		}
	})
	run("scans", func(l *lambda) {
		// a verdict for a version this table does not hold: logged, not
		// retried (the sample names this test's bucket)
		ev := bytes.ReplaceAll(event(t, "scans/threats-found.json", ""), []byte(`"bucketName": "anexo-files"`), []byte(`"bucketName": "`+cfg.Bucket+`"`))
		if resp := l.invoke(t, ev); resp["errorMessage"] != nil {
			t.Fatalf("scans: %v", resp)
		}
		if !l.logs.WaitFor(`"outcome":"unknown"`) {
			t.Fatalf("scans did not record the verdict as unknown:\n%s", l.logs)
		}
	})
	run("previews", func(l *lambda) {
		// the bus's file.scanned for a version this table does not hold:
		// nothing to render, nothing retried
		if resp := l.invoke(t, event(t, "previews/file-scanned.json", "")); resp["errorMessage"] != nil {
			t.Fatalf("previews: %v", resp)
		}
		if !l.logs.WaitFor(`"outcome":"gone"`) {
			t.Fatalf("previews did not find the version gone:\n%s", l.logs)
		}
	})
	run("events", func(l *lambda) {
		if b := status(t, l.invoke(t, event(t, "events/list.json", "")), 200); b["_page"].(map[string]any)["count"].(float64) != 0 {
			t.Fatalf("events: %v", b)
		}
	})
	run("webhooks", func(l *lambda) {
		b := status(t, l.invoke(t, event(t, "webhooks/create.json", "")), 201)
		if !strings.HasPrefix(b["secret"].(string), "whsec_") {
			t.Fatalf("create: %v", b)
		}
		if b := status(t, l.invoke(t, event(t, "webhooks/list.json", "")), 200); len(b["webhooks"].([]any)) != 1 {
			t.Fatalf("list: %v", b)
		}
		if b := status(t, l.invoke(t, event(t, "webhooks/get.json", "")), 404); b["code"] != "webhook_not_found" {
			t.Fatalf("get: %v", b)
		}
	})
	// the sample stream record (a file.trashed) goes to the bus and, for
	// the webhook just registered, to the deliveries queue
	run("dispatcher", func(l *lambda) {
		resp := l.invoke(t, event(t, "dispatcher/stream.json", ""))
		if failed, _ := resp["batchItemFailures"].([]any); resp["errorMessage"] != nil || len(failed) != 0 {
			t.Fatalf("dispatcher: %v", resp) // a partial batch response naming no failed record
		}
		if !l.logs.WaitFor(`"deliveries":1`) {
			t.Fatalf("dispatcher did not queue the delivery:\n%s", l.logs)
		}
		out, err := d.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(d.Cfg.QueueURL), MaxNumberOfMessages: 10})
		if err != nil || len(out.Messages) != 1 || !strings.Contains(aws.ToString(out.Messages[0].Body), "file.trashed") {
			t.Fatalf("deliveries queue: %v %v", out, err)
		}
	})
	// a delivery to a webhook that is gone is done with
	run("deliveries", func(l *lambda) {
		resp := l.invoke(t, event(t, "deliveries/sqs.json", ""))
		if failed, _ := resp["batchItemFailures"].([]any); resp["errorMessage"] != nil || len(failed) != 0 || !l.logs.WaitFor("delivery done") {
			t.Fatalf("deliveries: %v", resp)
		}
	})
	// last: it rotates and revokes the sample token
	run("tokens", func(l *lambda) {
		b := status(t, l.invoke(t, event(t, "tokens/create.json", "")), 201)
		if !strings.HasPrefix(b["secret"].(string), "anx_") || b["token"].(map[string]any)["allowed_domain"] != "https://crm.example.com" {
			t.Fatalf("create: %v", b)
		}
		if b := status(t, l.invoke(t, event(t, "tokens/list.json", "")), 200); len(b["tokens"].([]any)) != 2 {
			t.Fatalf("list: %v", b)
		}
		if b := status(t, l.invoke(t, event(t, "tokens/get.json", "")), 200); b["name"] != "sample" || b["last_used_at"] == nil {
			t.Fatalf("get (the authorizer recorded its use): %v", b)
		}
		rotated := status(t, l.invoke(t, event(t, "tokens/rotate.json", "")), 200)
		if len(rotated["token"].(map[string]any)["previous_secrets"].([]any)) != 1 {
			t.Fatalf("rotate: %v", rotated)
		}
		// the sample's secret is now a replaced one: it manages nothing
		status(t, l.invoke(t, event(t, "tokens/revoke.json", "")), 403)
		// the new secret (as the authorizer would name it) revokes
		revoke := bytes.ReplaceAll(event(t, "tokens/revoke.json", ""), []byte(auth.SecretID(auth.HashToken(sampleSecret))),
			[]byte(auth.SecretID(auth.HashToken(rotated["secret"].(string)))))
		if b := status(t, l.invoke(t, revoke), 200); b["status"] != "revoked" {
			t.Fatalf("revoke: %v", b)
		}
	})
}
