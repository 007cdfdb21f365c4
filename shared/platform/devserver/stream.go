package devserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/anexo/anexo/shared/adapters/dynamo"
	"github.com/anexo/anexo/shared/domain/dispatch"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/app"
)

// The embedded DynamoDB has no streams. streamTap stands in for DynamoDB
// Streams with the event source mapping's filter (dynamo.StreamFilter):
// after the table accepted a write (a PutItem or a transaction, answered
// 200), each outbox record it put is an INSERT record with its new image,
// as the stream reports it. It sees what the table committed, not what a
// client believes: a write whose answer was lost still counts.
type streamTap struct {
	next http.Handler
	mu   sync.Mutex
	subs map[string]*Stream // by table
}

var (
	tapsMu sync.Mutex
	taps   = map[string]*streamTap{} // by endpoint URL
	seq    atomic.Int64
)

// Stream is one table's stream of inserted outbox records.
type Stream struct {
	mu   sync.Mutex
	recs []events.DynamoDBEventRecord
	wake chan struct{}
}

// StreamOf subscribes to a table's outbox inserts on an embedded DynamoDB
// (nil when endpoint is not one).
func StreamOf(endpoint, table string) *Stream {
	tapsMu.Lock()
	t := taps[endpoint]
	tapsMu.Unlock()
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.subs[table] == nil {
		t.subs[table] = &Stream{wake: make(chan struct{}, 1)}
	}
	return t.subs[table]
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }

func (t *streamTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	if op != "PutItem" && op != "TransactWriteItems" {
		t.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	t.next.ServeHTTP(rec, r)
	if rec.status != http.StatusOK {
		return
	}
	type put struct {
		TableName string
		Item      map[string]events.DynamoDBAttributeValue
	}
	var in struct {
		put
		TransactItems []struct{ Put *put }
	}
	if json.Unmarshal(body, &in) != nil {
		return
	}
	puts := []put{in.put}
	for _, it := range in.TransactItems {
		if it.Put != nil {
			puts = append(puts, *it.Put)
		}
	}
	for _, p := range puts {
		if sk := p.Item[dynamo.AttrSK]; p.TableName == "" || sk.DataType() != events.DataTypeString || !strings.HasPrefix(sk.String(), "EV#") {
			continue
		}
		t.mu.Lock()
		s := t.subs[p.TableName]
		t.mu.Unlock()
		if s != nil {
			s.add(p.Item)
		}
	}
}

func (s *Stream) add(img map[string]events.DynamoDBAttributeValue) {
	n := seq.Add(1)
	keys := map[string]events.DynamoDBAttributeValue{dynamo.AttrPK: img[dynamo.AttrPK], dynamo.AttrSK: img[dynamo.AttrSK]}
	r := events.DynamoDBEventRecord{EventID: fmt.Sprint(n), EventName: "INSERT", EventSource: "aws:dynamodb", EventVersion: "1.1", AWSRegion: "us-east-1",
		Change: events.DynamoDBStreamRecord{ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Now()}, Keys: keys, NewImage: img,
			SequenceNumber: fmt.Sprintf("%021d", n), StreamViewType: "NEW_IMAGE"}}
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// consumeStream invokes the dispatcher with the stream's records in order,
// in batches, as the event source mapping does with partial batch
// responses: a batch is retried from the first record the dispatcher
// reports as failed (the whole batch after an error, or an identifier that
// names none of its records), with backoff; what still fails goes to the
// failure queue there, to the log here.
func consumeStream(ctx context.Context, s *Stream, fn *app.Deps) {
	handle := app.Dispatcher(fn)
	ctx = lambdas.WithConsumer(ctx, lambdas.Dispatcher)
	// settled is how many of the batch's records are done
	settled := func(batch []events.DynamoDBEventRecord) int {
		res, err := handle(ctx, events.DynamoDBEvent{Records: batch})
		if err != nil {
			return 0
		}
		if len(res.BatchItemFailures) == 0 {
			return len(batch)
		}
		for i, r := range batch {
			if r.Change.SequenceNumber == res.BatchItemFailures[0].ItemIdentifier {
				return i
			}
		}
		return 0
	}
	consumed := func(n int) {
		s.mu.Lock()
		s.recs = s.recs[n:]
		s.mu.Unlock()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			batch := s.recs[:min(len(s.recs), dispatch.StreamBatch)]
			s.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			done := settled(batch)
			for try := 1; done < len(batch) && try <= dispatch.StreamRetries && ctx.Err() == nil; try++ {
				consumed(done)
				batch = batch[done:]
				time.Sleep(time.Duration(min(100<<try, 5000)) * time.Millisecond)
				done = settled(batch)
			}
			if done < len(batch) && ctx.Err() == nil {
				fn.Log.Error("stream records dropped after their retries", "function", "dispatcher", "records", len(batch)-done)
			}
			consumed(len(batch))
		}
	}
}
