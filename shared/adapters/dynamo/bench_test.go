package dynamo_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/adapters/dynamo"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/testing/sdkprobe"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// BenchmarkListCost is the cost curve of a catalogue page as an account
// grows from 1,000 to 100,000 files (moto_server; files seeded with
// BatchWriteItem): AWS requests, DynamoDB read units AWS would bill
// (sdkprobe.Billed, from item sizes) and items evaluated per page, for the newest page, a page deep in
// the listing (a created_at range: a key condition, like a cursor far
// down), a filter matching 1 % of the files and a name search matching
// none. The point: every number is flat — a page never reads more than
// catalog.PageBudget items however big the account is.
func BenchmarkListCost(b *testing.B) {
	be := testenv.MotoBackend(b)
	c := testenv.Config(be)
	probe := &sdkprobe.Probe{MeasureCapacity: true}
	c.ConfigHooks = append(c.ConfigHooks, probe.Install)
	d := testenv.Connect(b, c)
	ctx := context.Background()
	p := auth.Principal{AccountID: uuid.NewString(), Scopes: []auth.Scope{auth.ScopeRead}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	seeded := 0
	for _, n := range sizes(b) {
		seed(b, d.DynamoDB(), c.Table, p.AccountID, t0, seeded, n)
		seeded = n
		mid := t0.Add(time.Duration(n/2) * time.Minute).Format(time.RFC3339)
		for _, q := range []struct{ name, query string }{
			{"newest", "limit=50"},
			{"deep", "limit=50&filter[date][type]=created_at&filter[date][to]=" + mid},
			{"ext-1pct", "limit=50&filter[extensions][]=pdf"},
			{"name-none", "limit=50&filter[name]=zzz-no-such-name"},
		} {
			b.Run(fmt.Sprintf("files=%d/%s", n, q.name), func(b *testing.B) {
				var calls, evaluated, got int
				var rru float64
				if _, _, err := d.Catalog().List(ctx, p, q.query); err != nil { // the cursor key is read once per process
					b.Fatal(err)
				}
				for b.Loop() {
					probe.Reset()
					_, page, err := d.Catalog().List(ctx, p, q.query)
					if err != nil {
						b.Fatal(err)
					}
					calls += len(probe.Calls())
					rru += probe.Billed().RRU
					evaluated += page.Result.Evaluated
					got += len(page.Files)
				}
				f := float64(b.N)
				b.ReportMetric(float64(calls)/f, "aws-req/op")
				b.ReportMetric(rru/f, "est-rru/op")
				b.ReportMetric(float64(evaluated)/f, "items-read/op")
				b.ReportMetric(float64(got)/f, "files/op")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// sizes are the account sizes of the curve: LIST_COST_SIZES=1000,10000
// for a quicker run (seeding 100,000 files into moto takes minutes).
func sizes(b *testing.B) []int {
	v := os.Getenv("LIST_COST_SIZES")
	if v == "" {
		return []int{1_000, 10_000, 100_000}
	}
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || len(out) > 0 && n <= out[len(out)-1] {
			b.Fatalf("LIST_COST_SIZES=%q: increasing positive counts, comma-separated", v)
		}
		out = append(out, n)
	}
	return out
}

// seed writes files from..to-1 of account, one a minute from t0; every
// hundredth is a PDF, the rest text files.
func seed(b *testing.B, db *dynamodb.Client, table, account string, t0 time.Time, from, to int) {
	b.Helper()
	jobs := make(chan []types.WriteRequest)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for batch := range jobs {
				in := &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: batch}}
				for len(in.RequestItems[table]) > 0 {
					out, err := db.BatchWriteItem(context.Background(), in)
					if err != nil {
						errs <- err
						return
					}
					in.RequestItems = out.UnprocessedItems
				}
			}
		})
	}
	var batch []types.WriteRequest
	for i := from; i < to; i++ {
		name, mime := fmt.Sprintf("report-%06d-%x.txt", i, rand.Uint32()), "text/plain"
		if i%100 == 0 {
			name, mime = fmt.Sprintf("contract-%06d.pdf", i), "application/pdf"
		}
		at := t0.Add(time.Duration(i) * time.Minute)
		f := files.File{AccountID: account, UUID: uuid.NewString(), ID: int64(i + 1), VersionUUID: uuid.NewString(),
			Name: name, SanitizedName: name, Extension: files.Extension(name), MimeType: mime, Type: files.Kind(mime, files.Extension(name)),
			Size: 1000 + int64(i), TotalBytes: 1000 + int64(i), VersionCount: 1, Source: "api",
			CreatedAt: at, UpdatedAt: at, CreatedBy: "bench", UpdatedBy: "bench"}
		item, err := dynamo.FileItem(f)
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		if len(batch) == 25 || i == to-1 {
			select {
			case jobs <- batch:
			case err := <-errs:
				b.Fatal(err)
			}
			batch = nil
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}
