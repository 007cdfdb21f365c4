package app

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

	"github.com/anexo/anexo/shared/authorizer"
	"github.com/anexo/anexo/shared/batches"
	"github.com/anexo/anexo/shared/catalog"
	"github.com/anexo/anexo/shared/dynamo"
	outbox "github.com/anexo/anexo/shared/events"
	"github.com/anexo/anexo/shared/httpapi"
	"github.com/anexo/anexo/shared/lambdas"
	"github.com/anexo/anexo/shared/upload"
	"github.com/anexo/anexo/shared/webhooks"
)

// One builder per function: a function's main calls its own, so its
// binary links only the features and clients that function serves.

// Authorizer is the authorizer function's handler.
func Authorizer(d *Deps) authorizer.Handler { return authorizer.New(d.Auth(), d.Log) }

// SessionsOpen opens upload sessions and mints upload tickets.
func SessionsOpen(d *Deps) httpapi.Handler {
	return httpapi.Serve(d.Log, lambdas.SessionsOpen, sessions(d), uppy(d))
}

// SessionsParts signs part URLs and reports a session's status.
func SessionsParts(d *Deps) httpapi.Handler {
	return httpapi.Serve(d.Log, lambdas.SessionsParts, sessions(d))
}

// SessionsComplete completes and aborts sessions.
func SessionsComplete(d *Deps) httpapi.Handler {
	return httpapi.Serve(d.Log, lambdas.SessionsComplete, sessions(d))
}

// Companion serves Uppy's companion routes under upload tickets.
func Companion(d *Deps) httpapi.Handler { return httpapi.Serve(d.Log, lambdas.Companion, uppy(d)) }

// Files serves the file catalogue.
func Files(d *Deps) httpapi.Handler {
	return httpapi.Serve(d.Log, lambdas.Files, &httpapi.Files{Catalog: d.Catalog()})
}

// Attachments serves the entity directory and attachments.
func Attachments(d *Deps) httpapi.Handler {
	return httpapi.Serve(d.Log, lambdas.Attachments, &httpapi.Entities{Entities: d.Entities(), Catalog: d.Catalog()})
}

// Batches serves Wegly batch uploads.
func Batches(d *Deps) httpapi.Handler {
	return httpapi.Serve(d.Log, lambdas.Batches, &httpapi.Wegly{Batches: d.Batches()})
}

// Tokens serves the account's tokens.
func Tokens(d *Deps) httpapi.Handler {
	return httpapi.Serve(d.Log, lambdas.Tokens, &httpapi.Tokens{Auth: d.Auth()})
}

// Events serves the event feed.
func Events(d *Deps) httpapi.Handler {
	return httpapi.Serve(d.Log, lambdas.Events, &httpapi.Events{Feed: d.Feed()})
}

// Webhooks serves the account's webhooks and their deliveries.
func Webhooks(d *Deps) httpapi.Handler {
	return httpapi.Serve(d.Log, lambdas.Webhooks, &httpapi.Webhooks{Svc: d.Webhooks(), Current: d.Auth().RequireCurrent})
}

func sessions(d *Deps) *httpapi.Sessions { return &httpapi.Sessions{Svc: d.Uploads()} }

func uppy(d *Deps) *httpapi.Uppy {
	return &httpapi.Uppy{Svc: d.Uploads(), Clock: d.Cfg.Now, Live: d.Auth().CheckLive, Current: d.Auth().RequireCurrent, Tickets: d.Ring(TicketKeys)}
}

// Handler is the handler of HTTP function fn (the local server serves them
// all; a Lambda's main calls its own builder).
func Handler(d *Deps, fn string) httpapi.Handler {
	build := map[string]func(*Deps) httpapi.Handler{
		lambdas.SessionsOpen: SessionsOpen, lambdas.SessionsParts: SessionsParts, lambdas.SessionsComplete: SessionsComplete,
		lambdas.Companion: Companion, lambdas.Files: Files, lambdas.Attachments: Attachments, lambdas.Batches: Batches,
		lambdas.Tokens: Tokens,
		lambdas.Events: Events, lambdas.Webhooks: Webhooks,
	}[fn]
	if build == nil {
		panic("app: no HTTP function " + fn)
	}
	return build(d)
}

// SweepReserve is the time a sweep keeps before its invocation's deadline:
// it starts another batch only with more than this left (one batch of 100
// purges takes a few seconds).
const SweepReserve = 30 * time.Second

// Sweeper is the scheduled purge of trashed files past their window, of
// the bytes of batch uploads a crash left uncommitted, and the pass that
// completes upload sessions whose parts are all in but which nobody
// completed (upload.Service.Settle). It works batch after batch until
// nothing is due or its time is spent, so a backlog drains at the
// function's full speed rather than one batch per run.
func Sweeper(d *Deps) func(ctx context.Context, ev events.EventBridgeEvent) error {
	return func(ctx context.Context, ev events.EventBridgeEvent) error {
		n, err := drain(ctx, d.Catalog().Sweep, catalog.SweepBatch)
		var b, s int
		if err == nil {
			b, err = drain(ctx, d.Batches().Sweep, batches.SweepBatch)
		}
		if err == nil {
			s, err = drain(ctx, d.Uploads().Settle, upload.SettleBatch)
		}
		if err != nil {
			d.Log.ErrorContext(ctx, "sweep failed", "function", lambdas.Sweeper, "request_id", ev.ID, "purged", n, "stale_batches", b, "sessions", s, "err", err)
			return err
		}
		d.Log.InfoContext(ctx, "sweep", "function", lambdas.Sweeper, "request_id", ev.ID, "purged", n, "stale_batches", b, "sessions", s)
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

// Recorder records browser form uploads S3 reports (ObjectCreated events);
// other keys are ignored, and a repeated event changes nothing.
func Recorder(d *Deps) func(ctx context.Context, ev events.S3Event) error {
	return func(ctx context.Context, ev events.S3Event) error {
		log := d.Log.With("function", lambdas.Recorder, "request_id", requestID(ctx))
		defer log.InfoContext(ctx, "s3 event", "records", len(ev.Records))
		for _, r := range ev.Records {
			if !strings.Contains(r.EventName, "ObjectCreated") {
				continue
			}
			key := r.S3.Object.URLDecodedKey
			if key == "" {
				key, _ = url.QueryUnescape(r.S3.Object.Key)
			}
			if err := d.Uploads().RecordObject(ctx, key, r.S3.Object.VersionID); err != nil {
				log.ErrorContext(ctx, "record upload failed", "key", key, "err", err)
				return err // S3 retries the event
			}
			log.InfoContext(ctx, "object reported", "key", key, "event", r.EventName)
		}
		return nil
	}
}

// Dispatcher routes the outbox records DynamoDB Streams reports (the
// mapping's filter passes only inserted EV# items) to the event bus and
// the deliveries queue. A failure fails the batch: the mapping retries it
// (halving it to isolate a bad record) before it gives up to the failure
// queue.
func Dispatcher(d *Deps) func(ctx context.Context, ev events.DynamoDBEvent) error {
	return func(ctx context.Context, ev events.DynamoDBEvent) error {
		log := d.Log.With("function", lambdas.Dispatcher, "request_id", requestID(ctx))
		var recs []outbox.Record
		for _, r := range ev.Records {
			if r.EventName != "INSERT" {
				continue
			}
			rec, ok, err := dynamo.StreamRecord(r.Change.NewImage)
			if err != nil {
				log.ErrorContext(ctx, "unreadable outbox record", "event_id", r.EventID, "err", err)
				return err
			}
			if ok {
				recs = append(recs, rec)
			}
		}
		st, err := d.Dispatch().Dispatch(ctx, recs)
		if err != nil {
			log.ErrorContext(ctx, "dispatch failed", "records", st.Records, "events", st.Events, "deliveries", st.Deliveries, "err", err)
			return err
		}
		log.InfoContext(ctx, "dispatched", "records", st.Records, "events", st.Events, "deliveries", st.Deliveries)
		return nil
	}
}

// Deliveries makes the webhook deliveries SQS hands it, ten at a time in
// parallel. A delivery that failed is reported as the batch's failure
// after its visibility is set to the wait before its next attempt; SQS
// moves it to the dead-letter queue after the last.
func Deliveries(d *Deps) func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		log := d.Log.With("function", lambdas.Deliveries, "request_id", requestID(ctx))
		failed := make([]bool, len(ev.Records))
		var wg sync.WaitGroup
		for i, r := range ev.Records {
			wg.Go(func() { failed[i] = !deliver(ctx, d, r, log) })
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
func deliver(ctx context.Context, d *Deps, r events.SQSMessage, log *slog.Logger) bool {
	var m webhooks.Message
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil || m.WebhookID == "" || m.Event.ID == "" {
		log.ErrorContext(ctx, "unreadable delivery dropped", "message_id", r.MessageId, "err", err)
		return true
	}
	n, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
	out, err := d.Webhooks().Deliver(ctx, m, max(n, 1), log)
	attrs := []any{"message_id", r.MessageId, "account_id", m.Event.AccountID, "webhook_id", m.WebhookID, "event_id", m.Event.ID, "attempt", n}
	switch {
	case err != nil:
		log.ErrorContext(ctx, "delivery failed", append(attrs, "err", err)...)
		return false
	case out.Done:
		log.InfoContext(ctx, "delivery done", attrs...)
		return true
	}
	if err := d.Queue().Delay(ctx, r.ReceiptHandle, out.RetryIn); err != nil {
		log.ErrorContext(ctx, "delivery not postponed", append(attrs, "err", err)...)
	}
	log.InfoContext(ctx, "delivery failed; retried later", append(attrs, "retry_in", out.RetryIn.String())...)
	return false
}

func requestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}
