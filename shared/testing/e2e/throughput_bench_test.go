package e2e_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/crc"
	apiclient "github.com/anexo/anexo/shared/client"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// BenchmarkUploadThroughput compares, in one run against the same S3
// endpoint (the embedded versitygw), the CLI's upload of a 64 MiB file
// (shared/client: open, 8 parts of 8 MiB four at a time, each signed just
// before it is sent, whole-file CRC32C, complete) with one plain
// sequential PUT of the same bytes to a presigned URL. On "local" the link
// is this machine's loopback; on "wan" every request first waits 20 ms and
// each connection carries at most 16 MiB/s, as a single TCP stream to S3
// over a real network does (S3 throughput scales with connections).
func BenchmarkUploadThroughput(b *testing.B) {
	for _, link := range []struct {
		name string
		rtt  time.Duration
		bps  int64
	}{{"local", 0, 0}, {"wan-20ms-16MiBps", 20 * time.Millisecond, 16 << 20}} {
		b.Run(link.name, func(b *testing.B) {
			ctx := context.Background()
			e := start(b, testenv.Embedded(b))
			c := e.account(0, "")
			data := random(64 << 20)
			path := filepath.Join(b.TempDir(), "big.bin")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				b.Fatal(err)
			}
			hc := &http.Client{Transport: shaped{rtt: link.rtt, bps: link.bps, next: http.DefaultTransport}}
			cli := &apiclient.Client{Endpoint: c.base, Token: c.token, HTTP: hc}
			presign := s3.NewPresignClient(e.srv.Deps.S3())
			var cliT, seqT time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := cli.Upload(ctx, path, apiclient.UploadOptions{StateDir: b.TempDir()}); err != nil {
					b.Fatal(err)
				}
				cliT += time.Since(t0)

				req, err := presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(e.srv.Deps.Cfg.Bucket),
					Key: aws.String("sequential/" + uuid.NewString()), ContentLength: aws.Int64(int64(len(data)))})
				if err != nil {
					b.Fatal(err)
				}
				put, _ := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(data))
				for k, v := range req.SignedHeader {
					if k != "Host" {
						put.Header[k] = v
					}
				}
				put.ContentLength = int64(len(data))
				t0 = time.Now()
				resp, err := hc.Do(put)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("sequential PUT: %d", resp.StatusCode)
				}
				seqT += time.Since(t0)
			}
			mib := float64(len(data)) / (1 << 20) * float64(b.N)
			b.ReportMetric(mib/cliT.Seconds(), "cli-MiB/s")
			b.ReportMetric(mib/seqT.Seconds(), "seq-MiB/s")
			b.ReportMetric(seqT.Seconds()/cliT.Seconds(), "cli/seq")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkUploadIntegrity compares, against the same S3 endpoint (the
// embedded versitygw) in one run, the CLI's upload of a 256 MiB file with
// and without integrity. With it, each part's CRC32C is computed just
// before the part is sent and signed into its URL, S3 verifies every part,
// and the whole file's CRC32C (combined from the parts') is verified at
// completion; the disk reads the file once either way. The two alternate,
// so both see the same page cache and machine load. The store's own work
// differs too (versitygw, like S3, computes a CRC64NVME of what it is sent
// without a checksum), so the client's share is reported apart: one
// hashing pass over the file, as the client reads it, against the upload.
func BenchmarkUploadIntegrity(b *testing.B) {
	ctx := context.Background()
	e := start(b, testenv.Embedded(b))
	c := e.account(0, "")
	path := filepath.Join(b.TempDir(), "big.bin")
	if err := os.WriteFile(path, random(256<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	cli := &apiclient.Client{Endpoint: c.base, Token: c.token}
	// time[integrity][phase]: phase 0 the parts, 1 the completion
	var spent [2][2]time.Duration
	upload := func(integrity int) {
		t0 := time.Now()
		var parts time.Duration
		o := apiclient.UploadOptions{StateDir: b.TempDir(), NoChecksum: integrity == 0, Progress: func(p apiclient.Progress) {
			if p.Phase == "completing" {
				parts = time.Since(t0)
			}
		}}
		if _, err := cli.Upload(ctx, path, o); err != nil {
			b.Fatal(err)
		}
		spent[integrity][0] += parts
		spent[integrity][1] += time.Since(t0) - parts
	}
	var hashing time.Duration
	i := 0
	for b.Loop() {
		upload(i % 2)
		upload(1 - i%2)
		i++
		t0 := time.Now()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(crc.New(crc.CRC32C), f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		hashing += time.Since(t0)
	}
	mib := float64(256) * float64(b.N)
	with, without := spent[1][0]+spent[1][1], spent[0][0]+spent[0][1]
	b.ReportMetric(mib/with.Seconds(), "integrity-MiB/s")
	b.ReportMetric(mib/without.Seconds(), "none-MiB/s")
	b.ReportMetric(without.Seconds()/with.Seconds(), "integrity/none")
	// the parts alone (the client's reading, hashing and sending; the
	// store verifying each part), and the completions (S3 assembling,
	// verifying the whole file)
	b.ReportMetric(spent[0][0].Seconds()/spent[1][0].Seconds(), "parts-integrity/none")
	b.ReportMetric(float64(spent[1][1].Milliseconds())/float64(b.N), "integrity-complete-ms")
	b.ReportMetric(float64(spent[0][1].Milliseconds())/float64(b.N), "none-complete-ms")
	b.ReportMetric(float64(hashing.Milliseconds())/float64(b.N), "client-hash-ms")
	b.ReportMetric(hashing.Seconds()/with.Seconds(), "client-hash/upload")
	b.ReportMetric(0, "ns/op")
}

// shaped delays every request by rtt and paces request bodies to bps
// bytes a second per connection (0: unshaped).
type shaped struct {
	rtt  time.Duration
	bps  int64
	next http.RoundTripper
}

func (s shaped) RoundTrip(r *http.Request) (*http.Response, error) {
	time.Sleep(s.rtt)
	if s.bps > 0 && r.Body != nil && r.ContentLength > 0 {
		r = r.Clone(r.Context())
		r.Body = &paced{r: r.Body, bps: s.bps, start: time.Now()}
	}
	return s.next.RoundTrip(r)
}

type paced struct {
	r     io.ReadCloser
	bps   int64
	start time.Time
	n     int64
}

func (p *paced) Read(b []byte) (int, error) {
	if len(b) > 64<<10 {
		b = b[:64<<10]
	}
	k, err := p.r.Read(b)
	p.n += int64(k)
	if due := time.Duration(float64(p.n) / float64(p.bps) * float64(time.Second)); due > time.Since(p.start) {
		time.Sleep(due - time.Since(p.start))
	}
	return k, err
}

func (p *paced) Close() error { return p.r.Close() }
