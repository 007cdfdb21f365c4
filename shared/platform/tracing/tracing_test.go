package tracing

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

// daemon is a fake X-Ray daemon: it hands over the documents it receives.
func daemon(t *testing.T) (string, func() (map[string]any, bool)) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String(), func() (map[string]any, bool) {
		buf := make([]byte, 64<<10)
		_ = pc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			return nil, false
		}
		head, doc, _ := strings.Cut(string(buf[:n]), "\n")
		if head != `{"format":"json","version":1}` {
			t.Fatalf("daemon header %q", head)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		return m, true
	}
}

// awsLike answers as DynamoDB and S3 would (200, or 500 for /fail).
func awsLike(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-amzn-RequestId", "REQ1")
		w.Header().Set("x-amz-request-id", "REQ1")
		if strings.Contains(r.URL.Path, "fail") {
			w.WriteHeader(500)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{"TableNames":[]}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func clients(t *testing.T, rec *Recorder) (*dynamodb.Client, *s3.Client) {
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), RetryMaxAttempts: 1}
	rec.Install(&cfg)
	url := awsLike(t)
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(url) }),
		s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(url), true })
}

func TestSubsegments(t *testing.T) {
	t.Parallel()
	addr, next := daemon(t)
	db, s3c := clients(t, &Recorder{Daemon: addr})
	ctx := context.WithValue(context.Background(), HeaderKey, header) //nolint:staticcheck // aws-lambda-go's key
	if _, err := db.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	m, ok := next()
	if !ok || m["type"] != "subsegment" || m["name"] != "DynamoDB" || m["namespace"] != "aws" ||
		m["trace_id"] != "1-5759e988-bd862e3fe1be46a994272793" || m["parent_id"] != "53995c3f42cd8ad8" || len(m["id"].(string)) != 16 ||
		m["end_time"].(float64) < m["start_time"].(float64) {
		t.Fatalf("subsegment %v", m)
	}
	if a := m["aws"].(map[string]any); a["operation"] != "ListTables" || a["region"] != "eu-west-1" || a["request_id"] != "REQ1" {
		t.Fatalf("aws %v", a)
	}
	if m["http"].(map[string]any)["response"].(map[string]any)["status"] != float64(200) || m["fault"] != nil {
		t.Fatalf("http %v", m)
	}
	// a failed call is a fault
	_, _ = s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("fail"), Key: aws.String("k")})
	if m, ok := next(); !ok || m["name"] != "S3" || m["fault"] != true || m["aws"].(map[string]any)["operation"] != "HeadObject" {
		t.Fatalf("failed call: %v", m)
	}
	// presigning sends nothing, nor do unsampled or untraced invocations
	_, _ = s3.NewPresignClient(s3c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
	unsampled := context.WithValue(context.Background(), HeaderKey, strings.Replace(header, "Sampled=1", "Sampled=0", 1)) //nolint:staticcheck
	_, _ = db.ListTables(unsampled, &dynamodb.ListTablesInput{})
	_, _ = db.ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if m, ok := next(); ok {
		t.Fatalf("recorded %v", m)
	}
}

func TestParseHeader(t *testing.T) {
	t.Parallel()
	if tr, ok := ParseHeader(header); !ok || !tr.Sampled || tr.Parent != "53995c3f42cd8ad8" {
		t.Fatal(tr, ok)
	}
	for _, bad := range []string{"", "Root=1-2-3", "Parent=abc", "garbage"} {
		if _, ok := ParseHeader(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
