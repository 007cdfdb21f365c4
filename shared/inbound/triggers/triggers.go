// Package triggers turns the events AWS hands the non-HTTP functions (the
// schedule's, S3's, DynamoDB Streams' and SQS's) into calls of the domain,
// and the domain's answers into what each trigger understands as success,
// retry or a batch's partial failure. The HTTP functions' counterpart is
// httpapi.Serve.
package triggers

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/anexo/anexo/shared/domain/dispatch"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// SweepReserve is the time a sweep keeps before its invocation's deadline:
// it starts another batch only with more than this left (one batch of 100
// purges takes a few seconds).
const SweepReserve = 30 * time.Second

// Sweep is one step of the scheduled sweep: Run handles up to Batch due
// items and says how many; Name is its count's name in the log.
type Sweep struct {
	Name  string
	Run   func(context.Context) (int, error)
	Batch int
}

// Sweeper runs the scheduled sweeps in order (purging trashed files past
// their window, the bytes of batch uploads a crash left uncommitted,
// completing upload sessions whose parts are all in). Each works batch
// after batch until nothing is due or the invocation's time is spent, so
// a backlog drains at the function's full speed rather than one batch per
// run. The first error stops the sweep and fails the invocation.
func Sweeper(log *slog.Logger, sweeps ...Sweep) func(ctx context.Context, ev events.EventBridgeEvent) error {
	return func(ctx context.Context, ev events.EventBridgeEvent) error {
		attrs := []any{"function", lambdas.Sweeper, "request_id", ev.ID}
		var err error
		for _, s := range sweeps {
			var n int
			if err == nil {
				n, err = drain(ctx, s.Run, s.Batch)
			}
			attrs = append(attrs, s.Name, n)
		}
		if err != nil {
			log.ErrorContext(ctx, "sweep failed", append(attrs, "err", err)...)
			return err
		}
		log.InfoContext(ctx, "sweep", attrs...)
		return nil
	}
}

// drain repeats a sweep step while it comes back with a full batch (more
// are due) and the invocation has time for another.
func drain(ctx context.Context, step func(context.Context) (int, error), batch int) (int, error) {
	total := 0
	for {
		n, err := step(ctx)
		total += n
		if err != nil || n < batch || ctx.Err() != nil {
			return total, err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= SweepReserve {
			return total, nil
		}
	}
}

// ObjectRecorder records an object S3 reports (upload.Service).
type ObjectRecorder interface {
	RecordObject(ctx context.Context, key, versionID string) error
}

// Recorder records browser form uploads S3 reports (ObjectCreated events);
// other keys are ignored, and a repeated event changes nothing. An error
// fails the invocation, and S3 retries the event.
func Recorder(log *slog.Logger, rec ObjectRecorder) func(ctx context.Context, ev events.S3Event) error {
	return func(ctx context.Context, ev events.S3Event) error {
		log := log.With("function", lambdas.Recorder, "request_id", requestID(ctx))
		defer log.InfoContext(ctx, "s3 event", "records", len(ev.Records))
		for _, r := range ev.Records {
			if !strings.Contains(r.EventName, "ObjectCreated") {
				continue
			}
			key := r.S3.Object.URLDecodedKey
			if key == "" {
				key, _ = url.QueryUnescape(r.S3.Object.Key)
			}
			if err := rec.RecordObject(ctx, key, r.S3.Object.VersionID); err != nil {
				log.ErrorContext(ctx, "record upload failed", "key", key, "err", err)
				return err
			}
			log.InfoContext(ctx, "object reported", "key", key, "event", r.EventName)
		}
		return nil
	}
}

// Router routes outbox records to the bus and the deliveries queue
// (dispatch.Dispatcher).
type Router interface {
	Dispatch(ctx context.Context, recs []outbox.Record) (dispatch.Stats, error)
}

// StreamImage reads an outbox record from a stream record's new image; ok
// is false for an item that is no outbox record (the table's adapter
// knows its keys).
type StreamImage func(img map[string]events.DynamoDBAttributeValue) (rec outbox.Record, ok bool, err error)

// Dispatcher routes the outbox records DynamoDB Streams reports (the
// mapping's filter passes only inserted EV# items) to the event bus and
// the deliveries queue, and reports a partial failure: the first record
// not dispatched (one that cannot be read, or the first of the step that
// failed), from which the mapping retries — halving the batch after its
// failed retries to isolate a bad record — before it gives up to the
// failure queue. The records before it are not sent again.
func Dispatcher(log *slog.Logger, read StreamImage, r Router) func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		log := log.With("function", lambdas.Dispatcher, "request_id", requestID(ctx))
		var recs []outbox.Record
		var from []string // the sequence number of each record's stream record
		stop := ""        // an unreadable record's: it and what follows are retried
		for _, rec := range ev.Records {
			if rec.EventName != "INSERT" {
				continue
			}
			o, ok, err := read(rec.Change.NewImage)
			if err != nil {
				log.ErrorContext(ctx, "unreadable outbox record", "event_id", rec.EventID, "err", err)
				stop = rec.Change.SequenceNumber
				break
			}
			if ok {
				recs, from = append(recs, o), append(from, rec.Change.SequenceNumber)
			}
		}
		st, err := r.Dispatch(ctx, recs)
		attrs := []any{"records", st.Records, "done", st.Done, "events", st.Events, "deliveries", st.Deliveries}
		if err != nil {
			log.ErrorContext(ctx, "dispatch failed", append(attrs, "err", err)...)
			stop = from[st.Done]
		} else {
			log.InfoContext(ctx, "dispatched", attrs...)
		}
		if stop == "" {
			return events.DynamoDBEventResponse{}, nil
		}
		return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: stop}}}, nil
	}
}

// Deliverer makes one delivery attempt (webhooks.Service).
type Deliverer interface {
	Deliver(ctx context.Context, m webhooks.Message, log *slog.Logger) (webhooks.Outcome, error)
}

// Postponer sets when a queued message is seen again, or moves it to the
// dead-letter queue (sqsqueue.Queue).
type Postponer interface {
	Delay(ctx context.Context, receipt string, d time.Duration) error
	GiveUp(ctx context.Context, body string) error
}

// Deliveries makes the webhook deliveries SQS hands it, ten at a time in
// parallel. A delivery that failed is reported as the batch's failure
// after its visibility is set to the wait before its next attempt; after
// its last attempt it is moved to the dead-letter queue (attempts are
// counted on the delivery, not by SQS's receives, which a throttled
// invocation also spends).
func Deliveries(log *slog.Logger, d Deliverer, q Postponer) func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		log := log.With("function", lambdas.Deliveries, "request_id", requestID(ctx))
		failed := make([]bool, len(ev.Records))
		var wg sync.WaitGroup
		for i, r := range ev.Records {
			wg.Go(func() { failed[i] = !deliver(ctx, d, q, r, log) })
		}
		wg.Wait()
		var res events.SQSEventResponse
		for i, f := range failed {
			if f {
				res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ev.Records[i].MessageId})
			}
		}
		return res, nil
	}
}

// deliver makes one delivery attempt; false leaves the message queued.
func deliver(ctx context.Context, d Deliverer, q Postponer, r events.SQSMessage, log *slog.Logger) bool {
	var m webhooks.Message
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil || m.WebhookID == "" || (m.Recover == nil && !readable(m.Deliveries())) {
		log.ErrorContext(ctx, "unreadable delivery dropped", "message_id", r.MessageId, "err", err)
		return true
	}
	m.Receives, _ = strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
	out, err := d.Deliver(ctx, m, log)
	evs := m.Deliveries()
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	attrs := []any{"message_id", r.MessageId, "account_id", m.AccountID(), "webhook_id", m.WebhookID, "event_ids", ids,
		"receives", m.Receives}
	if m.Recover != nil {
		attrs = append(attrs, "recovery_after", m.Recover.After)
	}
	switch {
	case err != nil:
		log.ErrorContext(ctx, "delivery failed", append(attrs, "err", err)...)
		return false
	case out.Done:
		log.InfoContext(ctx, "delivery done", attrs...)
		return true
	case out.GiveUp:
		if err := q.GiveUp(ctx, r.Body); err != nil {
			log.ErrorContext(ctx, "delivery not moved to the dead-letter queue", append(attrs, "err", err)...)
			return false
		}
		log.WarnContext(ctx, "delivery given up after its last attempt", attrs...)
		return true
	}
	if err := q.Delay(ctx, r.ReceiptHandle, out.RetryIn); err != nil {
		log.ErrorContext(ctx, "delivery not postponed", append(attrs, "err", err)...)
	}
	msg := "delivery failed; retried later"
	if out.Postponed {
		msg = "delivery postponed: the endpoint's attempt slots are all in use"
	}
	log.InfoContext(ctx, msg, append(attrs, "retry_in", out.RetryIn.String())...)
	return false
}

// readable: events to deliver, each with its id and account.
func readable(evs []outbox.Envelope) bool {
	for _, e := range evs {
		if e.ID == "" || e.AccountID == "" {
			return false
		}
	}
	return len(evs) > 0
}

func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}
