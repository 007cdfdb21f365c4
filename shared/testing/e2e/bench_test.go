package e2e_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/sdkprobe"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// The benchmarks run every operation over HTTP against moto_server and
// report, per operation: AWS requests (the authorizer's answer is cached
// per token for a minute, as API Gateway does), DynamoDB request units AWS
// would bill (sdkprobe.Billed estimates them from the items written and
// read: moto counts one unit per call whatever the size), bytes of file
// content that passed through Lambda, and the handler's latency
// percentiles in this process. `make bench` runs them.

type measured struct {
	b     *testing.B
	e     *env
	lat   []time.Duration
	calls int
	ddb   sdkprobe.Billed
	bytes int64
}

func measure(b *testing.B) (*env, *measured) {
	// API Gateway caches the authorizer's answer per token (60 s in the
	// stack): so does the router here, as in AWS
	e := start(b, testenv.MotoBackend(b), func(o *devserver.Options) { o.AuthorizerCache = time.Minute })
	e.probe.MeasureCapacity = true
	return e, &measured{b: b, e: e}
}

// op times one operation and adds its AWS requests and capacity.
func (m *measured) op(f func()) {
	m.e.probe.Reset()
	t0 := time.Now()
	f()
	m.lat = append(m.lat, time.Since(t0))
	m.calls += len(m.e.probe.Calls())
	c := m.e.probe.Billed()
	m.ddb.RRU += c.RRU
	m.ddb.WRU += c.WRU
}

func (m *measured) report() {
	n := float64(len(m.lat))
	if n == 0 {
		return
	}
	slices.Sort(m.lat)
	pct := func(p float64) float64 { return float64(m.lat[int(p*(n-1))].Microseconds()) / 1000 }
	m.b.ReportMetric(float64(m.calls)/n, "aws-req/op")
	m.b.ReportMetric(m.ddb.RRU/n, "est-rru/op")
	m.b.ReportMetric(m.ddb.WRU/n, "est-wru/op")
	m.b.ReportMetric(float64(m.bytes)/n, "lambda-bytes/op")
	m.b.ReportMetric(pct(0.5), "p50-ms")
	m.b.ReportMetric(pct(0.99), "p99-ms")
	m.b.ReportMetric(0, "ns/op") // wall time per op is the percentiles' business
}

func BenchmarkOpen(b *testing.B) {
	e, m := measure(b)
	c := e.account(0, "")
	for b.Loop() {
		m.op(func() { c.open("bench.bin", 100*MiB, nil) })
	}
	m.report()
}

func BenchmarkSign100Parts(b *testing.B) {
	e, m := measure(b)
	c := e.account(0, "")
	s := c.open("bench.bin", 1000*8*MiB, nil)
	for b.Loop() {
		m.op(func() { c.partURLs(s["id"].(string), seq(101, 200)...) })
	}
	m.report()
}

// BenchmarkSign100PartsCold: the first part URLs a process signs for a
// session read it once (later batches come from the process's cache).
func BenchmarkSign100PartsCold(b *testing.B) {
	e, m := measure(b)
	c := e.account(0, "")
	for b.Loop() {
		b.StopTimer()
		s := c.open("bench.bin", 1000*8*MiB, nil)
		b.StartTimer()
		m.op(func() { c.partURLs(s["id"].(string), seq(101, 200)...) })
	}
	m.report()
}

func BenchmarkComplete(b *testing.B) {
	e, m := measure(b)
	c := e.account(0, "")
	data := random(1000)
	for b.Loop() {
		b.StopTimer()
		s := c.open("bench.bin", len(data), nil)
		c.putParts(data, 8*MiB, partsOf(s))
		b.StartTimer()
		m.op(func() { c.expect(200, "POST", "/v1/sessions/"+s["id"].(string)+"/complete", nil) })
	}
	m.report()
}

func BenchmarkListPage(b *testing.B) {
	e, m := measure(b)
	c := e.account(0, "")
	data := random(10)
	for range 60 {
		c.upload("f.txt", data, nil)
	}
	c.walk("limit=1") // the cursor key exists from here on
	for b.Loop() {
		m.op(func() { c.expect(200, "GET", "/v1/files?limit=50", nil) })
	}
	m.report()
}

func BenchmarkAttach(b *testing.B) {
	e, m := measure(b)
	c := e.account(0, "")
	f := c.upload("a.pdf", random(10), nil)["uuid"].(string)
	for b.Loop() {
		lead := uuid.NewString()
		c.expect(201, "PUT", "/v1/entities/lead/"+lead, map[string]any{})
		m.op(func() {
			c.expect(200, "POST", "/v1/entities/lead/"+lead+"/files", map[string]any{"file_uuids": []string{f}})
		})
	}
	m.report()
}

func BenchmarkWeglyBatch(b *testing.B) {
	e, m := measure(b)
	c := e.account(0, "")
	c.expect(201, "PUT", "/v1/entities/lead/1", map[string]any{})
	d1, d2 := random(100_000), random(50_000)
	ct, body := multipartBody(b, [][2]string{{"lead_code", "1"}}, []formFile{{"files", "a.bin", "", d1}, {"files", "b.bin", "", d2}})
	for b.Loop() {
		m.op(func() {
			if r := c.post(batchPath, ct, body); r.Status != 201 {
				b.Fatal(r)
			}
		})
		m.bytes += int64(len(d1) + len(d2))
	}
	m.report()
}

// BenchmarkUploadPath counts what one whole small upload costs end to end
// (open, part URL, PUT to S3, complete): no file byte passes through Lambda.
func BenchmarkUploadPath(b *testing.B) {
	e, m := measure(b)
	c := e.account(0, "")
	data := random(64 << 10)
	for b.Loop() {
		m.op(func() { c.upload(fmt.Sprintf("u%d.bin", len(m.lat)), data, nil) })
	}
	m.report()
}

// BenchmarkAccountWrites shows where one upload's DynamoDB writes land
// (open, part, complete of a 64 KiB file, and of a new version of it): how
// many write the account item (the file-id sequence and the usage
// counters), the units billed to it, and the units billed to the rest of
// the account's partition key and to other keys. The Scale section of the
// docs/performance.md (Scale) computes one account's ceiling from these counts.
func BenchmarkAccountWrites(b *testing.B) {
	for _, newVersion := range []bool{false, true} {
		b.Run(map[bool]string{false: "new-file", true: "new-version"}[newVersion], func(b *testing.B) {
			e, _ := measure(b)
			c := e.account(0, "")
			data := random(64 << 10)
			first := c.upload("first.bin", data, nil)
			var extra map[string]any
			if newVersion {
				extra = map[string]any{"file_uuid": first["uuid"]}
			}
			pk := "A#" + c.account
			var itemWrites, itemWRU, partitionWRU, otherWRU float64
			for b.Loop() {
				e.probe.Reset()
				c.upload("u.bin", data, extra)
				for _, w := range e.probe.Writes() {
					switch {
					case w.PK == pk && w.SK == "ACCOUNT":
						itemWrites++
						itemWRU += w.WRU
					case w.PK == pk:
						partitionWRU += w.WRU
					default:
						otherWRU += w.WRU
					}
				}
			}
			n := float64(b.N)
			b.ReportMetric(itemWrites/n, "account-item-writes/upload")
			b.ReportMetric(itemWRU/n, "account-item-wru/upload")
			b.ReportMetric(partitionWRU/n, "other-account-items-wru/upload")
			b.ReportMetric(otherWRU/n, "other-keys-wru/upload")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkEventsPage reads a page of the event feed from an account with
// 300 changes (uploads, each a record of one event, and trash/restore
// pairs): unfiltered pages of 100, and a filter that matches one record
// in 60. What a page costs stays bounded by the page and the budget, not
// by the account's history.
func BenchmarkEventsPage(b *testing.B) {
	e, m := measure(b)
	c := e.account(0, "")
	f := c.upload("f.bin", random(10), nil)
	for i := range 150 {
		c.expect(200, "DELETE", "/v1/files", batchBody(f["uuid"].(string)))
		if i%30 == 0 {
			c.upload(fmt.Sprintf("u%d.bin", i), random(10), nil) // 5 file.created among 300 trash/restore
		}
		c.expect(200, "POST", "/v1/files/restore", batchBody(f["uuid"].(string)))
	}
	e.clock.Advance(outbox.Settle)
	for _, tc := range []struct{ name, query string }{{"all", "limit=100"}, {"selective", "limit=100&type[]=file.created"}} {
		b.Run(tc.name, func(b *testing.B) {
			m := &measured{b: b, e: e}
			for b.Loop() {
				m.op(func() { c.expect(200, "GET", "/v1/events?"+tc.query, nil) })
			}
			m.report()
		})
	}
	_ = m
}

// BenchmarkRouting measures what routing an event costs, on the embedded
// emulators (moto has no stream to feed the dispatcher), with one webhook
// taking every event: per event, the dispatcher's AWS requests and
// request units, and the delivery function's (the event source mapping's
// SQS receives and deletes poll on their own clock and are left out).
// "upload" is the worst case, one event per record and stream batch;
// "batch-10" a Wegly batch of ten files (one record of 21 events).
func BenchmarkRouting(b *testing.B) {
	e := start(b, testenv.Embedded(b))
	e.probe.MeasureCapacity = true
	c := e.account(0, "")
	r := newReceiver(b, e.clock.Now)
	c.hook(r, map[string]any{})
	c.expect(201, "PUT", "/v1/entities/lead/4521", map[string]any{"title": "Lead"})
	for _, tc := range []struct {
		name   string
		events int
		change func()
	}{
		{"upload", 1, func() { c.upload("f.bin", random(10), nil) }},
		{"batch-10", 21, func() {
			var fs []formFile
			for i := range 10 {
				fs = append(fs, formFile{"files", fmt.Sprintf("f%d.txt", i), "text/plain", []byte("x")})
			}
			ct, body := multipartBody(b, [][2]string{{"lead_code", "4521"}}, fs)
			if res := c.post(batchPath, ct, body); res.Status != 201 {
				b.Fatal(res)
			}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			n, evs := len(r.accepted()), 0
			var dispatch, deliver int
			var dBilled, lBilled sdkprobe.Billed
			for b.Loop() {
				e.probe.Reset()
				tc.change()
				n += tc.events
				r.waitFor(n)
				evs += tc.events
				for _, op := range e.probe.CallsOf(lambdas.Deliveries) {
					if op != "SQS.ReceiveMessage" && op != "SQS.DeleteMessageBatch" {
						deliver++
					}
				}
				dispatch += len(e.probe.CallsOf(lambdas.Dispatcher))
				d, l := e.probe.BilledOf(lambdas.Dispatcher), e.probe.BilledOf(lambdas.Deliveries)
				dBilled.RRU, dBilled.WRU = dBilled.RRU+d.RRU, dBilled.WRU+d.WRU
				lBilled.RRU, lBilled.WRU = lBilled.RRU+l.RRU, lBilled.WRU+l.WRU
			}
			per := func(x float64) float64 { return x / float64(evs) }
			b.ReportMetric(per(float64(dispatch)), "dispatch-req/event")
			b.ReportMetric(per(dBilled.RRU), "dispatch-rru/event")
			b.ReportMetric(per(float64(deliver)), "delivery-req/event")
			b.ReportMetric(per(lBilled.RRU), "delivery-rru/event")
			b.ReportMetric(per(lBilled.WRU), "delivery-wru/event")
			b.ReportMetric(0, "ns/op")
		})
	}
}
