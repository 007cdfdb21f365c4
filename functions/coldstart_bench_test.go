package functions_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// BenchmarkColdStart starts every bootstrap (built as `make build` builds
// it) under aws-lambda-rie, cold, b.N times, and reports the runtime's
// INIT duration as the emulator logs it, the first invocation's round trip
// (init, handler, storage requests), and the size of the deployed linux/arm64 binary. The
// event is a cheap sample of each function's (its answer is not checked
// here; TestBootstrapsUnderRIE does that). Storage is moto_server.
func BenchmarkColdStart(b *testing.B) {
	rie := rieBinary(b)
	be := testenv.MotoBackend(b)
	cfg := testenv.Config(be)
	testenv.Connect(b, cfg)
	env := []string{"TABLE_NAME=" + cfg.Table, "BUCKET_NAME=" + cfg.Bucket, "AWS_REGION=us-east-1",
		"DYNAMODB_ENDPOINT=" + be.Dynamo, "S3_ENDPOINT=" + be.S3, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"}
	samples := map[string]string{
		lambdas.Authorizer: "authorizer/unknown-token.json", lambdas.SessionsOpen: "sessions-open/open-invalid.json",
		lambdas.SessionsParts: "sessions-parts/status.json", lambdas.SessionsComplete: "sessions-complete/complete.json",
		lambdas.Files: "files/usage.json", lambdas.Attachments: "attachments/usages.json", lambdas.Batches: "batches/get.json",
		lambdas.Companion: "companion/list.json", lambdas.Recorder: "recorder/s3-post.json", lambdas.Sweeper: "sweeper/scheduled.json",
		lambdas.Tokens: "tokens/list.json", lambdas.Events: "events/list.json", lambdas.Webhooks: "webhooks/list.json",
		lambdas.Dispatcher: "dispatcher/stream.json", lambdas.Deliveries: "deliveries/sqs.json",
	}
	initMs := regexp.MustCompile(`INIT REPORT.*?durationMs: ?([0-9.]+)`)
	dir := b.TempDir()
	for _, fn := range lambdas.All() {
		name, ok := samples[fn]
		if !ok {
			b.Fatalf("no sample event for %s", fn)
		}
		b.Run(fn, func(b *testing.B) {
			host := buildBootstrap(b, dir, fn, runtime.GOARCH)
			fi, err := os.Stat(buildBootstrap(b, dir, fn, "arm64"))
			if err != nil {
				b.Fatal(err)
			}
			ev := event(b, name, "")
			var inits, firsts float64
			for b.Loop() {
				l := startLambda(b, rie, host, env)
				t0 := time.Now()
				resp, err := http.Post(l.url, "application/json", bytes.NewReader(ev))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				firsts += float64(time.Since(t0).Microseconds()) / 1000
				l.stop()
				m := initMs.FindStringSubmatch(l.logs.String())
				if m == nil {
					b.Fatalf("no INIT REPORT in the logs:\n%s", l.logs)
				}
				v, _ := strconv.ParseFloat(m[1], 64)
				inits += v
			}
			n := float64(b.N)
			b.ReportMetric(inits/n, "init-ms")
			b.ReportMetric(firsts/n, "first-invoke-ms")
			b.ReportMetric(float64(fi.Size())/(1<<20), "arm64-MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}
