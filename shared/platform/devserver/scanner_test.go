package devserver

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/smithy-go"

	"github.com/anexo/anexo/shared/adapters/malwarescan"
)

// TestScanRequests: the stand-in answers GuardDuty's SendObjectMalwareScan
// to the SDK client as GuardDuty does: 200 for an object of the protected
// bucket (the request reaches the scanner with its key and version), 400
// BadRequestException for another bucket or when nothing scans.
func TestScanRequests(t *testing.T) {
	t.Parallel()
	m, err := StartMessaging(time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	gd := guardduty.New(guardduty.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	badRequest := func(err error) bool {
		var ae smithy.APIError
		return errors.As(err, &ae) && ae.ErrorCode() == "BadRequestException"
	}
	ctx := context.Background()
	if err := malwarescan.New(gd, "files").RequestScan(ctx, "a/b/c", "v1"); !badRequest(err) {
		t.Fatalf("a request with no scanner: %v, want BadRequestException", err)
	}
	var got []string
	m.mu.Lock()
	m.scanRequested = func(bucket, key, version string) bool {
		got = append(got, bucket+" "+key+" "+version)
		return bucket == "files"
	}
	m.mu.Unlock()
	if err := malwarescan.New(gd, "files").RequestScan(ctx, "a/b/c", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := malwarescan.New(gd, "other").RequestScan(ctx, "a/b/c", ""); !badRequest(err) {
		t.Fatalf("a request for an unprotected bucket: %v, want BadRequestException", err)
	}
	if len(got) != 2 || got[0] != "files a/b/c v1" || got[1] != "other a/b/c " {
		t.Fatalf("requests the scanner saw: %q", got)
	}
}
