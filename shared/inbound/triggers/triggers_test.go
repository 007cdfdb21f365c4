package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/anexo/anexo/shared/adapters/memory"
	"github.com/anexo/anexo/shared/domain/dispatch"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

var quiet = slog.New(slog.DiscardHandler)

// deliverer answers each delivery by its webhook id: "ok" is delivered,
// "later" fails and is retried in five minutes, "busy" is postponed a
// second per receive, "last" failed its last attempt, "broken" fails to
// run. Deliveries calls it from several
// goroutines.
type deliverer struct {
	mu       sync.Mutex
	attempts map[string]int
}

func (d *deliverer) Deliver(_ context.Context, m webhooks.Message, _ *slog.Logger) (webhooks.Outcome, error) {
	d.mu.Lock()
	d.attempts[m.WebhookID]++
	d.mu.Unlock()
	switch m.WebhookID {
	case "ok":
		return webhooks.Outcome{Done: true}, nil
	case "later":
		return webhooks.Outcome{RetryIn: 5 * time.Minute}, nil
	case "busy":
		return webhooks.Outcome{Postponed: true, RetryIn: time.Duration(m.Receives) * time.Second}, nil
	case "last":
		return webhooks.Outcome{GiveUp: true}, nil
	}
	return webhooks.Outcome{}, errors.New("store down")
}

func message(t *testing.T, id, hook string, receives string) events.SQSMessage {
	t.Helper()
	b, err := json.Marshal(webhooks.Message{WebhookID: hook, Events: []outbox.Envelope{{Event: outbox.Event{ID: "e-" + id}, AccountID: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	return events.SQSMessage{MessageId: id, ReceiptHandle: "r-" + id, Body: string(b),
		Attributes: map[string]string{"ApproximateReceiveCount": receives}}
}

// TestDeliveriesReportTheirFailures: of a batch, the messages delivered
// and the unreadable one go; one that failed is reported and its next
// receive postponed to the retry's time (or, one whose endpoint was busy,
// to its postponement: the receive count reaches it); one whose attempt could not run
// is reported and left to the queue's visibility; one whose last attempt
// failed goes to the dead-letter queue, whatever its receive count.
func TestDeliveriesReportTheirFailures(t *testing.T) {
	d, q := &deliverer{attempts: map[string]int{}}, &memory.Queue{}
	ev := events.SQSEvent{Records: []events.SQSMessage{message(t, "1", "ok", "1"), message(t, "2", "later", "3"),
		message(t, "3", "broken", ""), {MessageId: "4", Body: "{not json"}, message(t, "5", "last", "2"), message(t, "6", "busy", "7")}}
	res, err := Deliveries(quiet, d, q)(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range res.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	slices.Sort(failed)
	if !slices.Equal(failed, []string{"2", "3", "6"}) {
		t.Fatalf("failures %v, want [2 3 6]", failed)
	}
	if wait, ok := q.Delayed("r-2"); !ok || wait != 5*time.Minute {
		t.Fatalf("the retried message waits %v (%v), want 5m", wait, ok)
	}
	if wait, ok := q.Delayed("r-6"); !ok || wait != 7*time.Second {
		t.Fatalf("the postponed message waits %v (%v), want 7s (its seventh receive)", wait, ok)
	}
	if _, ok := q.Delayed("r-3"); ok {
		t.Fatal("a delivery that could not run was postponed")
	}
	if d.attempts["later"] != 1 || d.attempts["broken"] != 1 || len(q.Sent()) != 0 {
		t.Fatalf("attempts %v", d.attempts)
	}
	if dead := q.GivenUp(); len(dead) != 1 || dead[0] != ev.Records[4].Body {
		t.Fatalf("dead letters %q, want the last one's", dead)
	}
}

// router keeps what it is asked to dispatch; with failAt, it dispatches
// that many records and fails.
type router struct {
	recs   []outbox.Record
	failAt int
}

func (r *router) Dispatch(_ context.Context, recs []outbox.Record) (dispatch.Stats, error) {
	if r.failAt > 0 && len(recs) > r.failAt {
		r.recs = append(r.recs, recs[:r.failAt]...)
		return dispatch.Stats{Records: len(recs), Done: r.failAt}, errors.New("bus down")
	}
	r.recs = append(r.recs, recs...)
	return dispatch.Stats{Records: len(recs), Done: len(recs)}, nil
}

// TestDispatcherReadsInsertsOnly: inserted outbox records are dispatched
// in order, other changes and other items are passed over; a record that
// cannot be read is reported as the batch's failure after the records
// before it are dispatched, and a dispatch that fails part way reports its
// first record not done (the mapping retries from there).
func TestDispatcherReadsInsertsOnly(t *testing.T) {
	read := func(img map[string]events.DynamoDBAttributeValue) (outbox.Record, bool, error) {
		switch id := img["id"].String(); id {
		case "bad":
			return outbox.Record{}, false, errors.New("unreadable")
		case "other":
			return outbox.Record{}, false, nil
		default:
			return outbox.Record{ID: id}, true, nil
		}
	}
	change := func(name, id string) events.DynamoDBEventRecord {
		return events.DynamoDBEventRecord{EventName: name, Change: events.DynamoDBStreamRecord{SequenceNumber: "seq-" + id,
			NewImage: map[string]events.DynamoDBAttributeValue{"id": events.NewStringAttribute(id)}}}
	}
	failed := func(res events.DynamoDBEventResponse) string {
		var ids []string
		for _, f := range res.BatchItemFailures {
			ids = append(ids, f.ItemIdentifier)
		}
		return strings.Join(ids, ",")
	}
	r := &router{}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{change("INSERT", "r1"), change("MODIFY", "r2"),
		change("INSERT", "other"), change("INSERT", "r3")}}
	if res, err := Dispatcher(quiet, read, r)(context.Background(), ev); err != nil || failed(res) != "" {
		t.Fatal(err, res)
	}
	if len(r.recs) != 2 || r.recs[0].ID != "r1" || r.recs[1].ID != "r3" {
		t.Fatalf("dispatched %+v", r.recs)
	}
	r = &router{}
	ev.Records = append(ev.Records, change("INSERT", "bad"), change("INSERT", "r4"))
	if res, err := Dispatcher(quiet, read, r)(context.Background(), ev); err != nil || failed(res) != "seq-bad" || len(r.recs) != 2 {
		t.Fatalf("an unreadable record: %v %v, %d dispatched", err, failed(res), len(r.recs))
	}
	r = &router{failAt: 1}
	ev.Records = ev.Records[:4]
	if res, err := Dispatcher(quiet, read, r)(context.Background(), ev); err != nil || failed(res) != "seq-r3" || len(r.recs) != 1 {
		t.Fatalf("a dispatch failed after one record: %v %v, %d dispatched", err, failed(res), len(r.recs))
	}
}

// recorder keeps the objects reported, and fails on one key.
type recorder struct{ got []string }

func (r *recorder) RecordObject(_ context.Context, key, version string) error {
	if key == "a/fail" {
		return errors.New("table down")
	}
	r.got = append(r.got, key+"@"+version)
	return nil
}

// TestRecorderTakesCreatedObjects: created objects are recorded by their
// decoded key, other events are passed over, and a failure fails the
// invocation (S3 sends the event again).
func TestRecorderTakesCreatedObjects(t *testing.T) {
	obj := func(name, key, decoded string) events.S3EventRecord {
		var r events.S3EventRecord
		r.EventName, r.S3.Object.Key, r.S3.Object.URLDecodedKey, r.S3.Object.VersionID = name, key, decoded, "v"
		return r
	}
	r := &recorder{}
	ev := events.S3Event{Records: []events.S3EventRecord{obj("ObjectCreated:Post", "a/b%20c", ""),
		obj("ObjectRemoved:Delete", "a/x", "a/x"), obj("ObjectCreated:Put", "a/d", "a/d")}}
	if err := Recorder(quiet, r)(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.got, []string{"a/b c@v", "a/d@v"}) {
		t.Fatalf("recorded %v", r.got)
	}
	ev.Records = []events.S3EventRecord{obj("ObjectCreated:Post", "a/fail", "a/fail")}
	if err := Recorder(quiet, r)(context.Background(), ev); err == nil {
		t.Fatal("a failed record passed")
	}
}
