package app

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"github.com/anexo/anexo/shared/adapters/dynamo"
	"github.com/anexo/anexo/shared/domain/batches"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/scanning"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/inbound/authorizer"
	"github.com/anexo/anexo/shared/inbound/httpapi"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/inbound/triggers"
)

// One builder per function: a function's main calls its own, so its
// binary links only the features and clients that function serves.

// Authorizer is the authorizer function's handler.
func Authorizer(d *Deps) authorizer.Handler {
	return authorizer.New(d.Auth(), d.Log, d.Cfg.OriginSecret)
}

// serve is function fn's HTTP handler over its features, behind the edge's
// origin check when the stack has an edge (Config.OriginSecret).
func (d *Deps) serve(fn string, features ...httpapi.Feature) httpapi.Handler {
	return httpapi.Edge(d.Cfg.OriginSecret, httpapi.Serve(d.Log, fn, features...))
}

// SessionsOpen opens upload sessions and mints upload tickets.
func SessionsOpen(d *Deps) httpapi.Handler {
	return d.serve(lambdas.SessionsOpen, sessions(d), uppy(d), &httpapi.Kommo{Relay: d.Relay()})
}

// SessionsParts signs part URLs and reports a session's status.
func SessionsParts(d *Deps) httpapi.Handler {
	return d.serve(lambdas.SessionsParts, sessions(d))
}

// SessionsComplete completes and aborts sessions.
func SessionsComplete(d *Deps) httpapi.Handler {
	return d.serve(lambdas.SessionsComplete, sessions(d))
}

// Companion serves Uppy's companion routes under upload tickets,
// and file requests' public routes under their links.
func Companion(d *Deps) httpapi.Handler { return d.serve(lambdas.Companion, uppy(d), fileRequests(d)) }

// Files serves the file catalogue.
func Files(d *Deps) httpapi.Handler {
	return d.serve(lambdas.Files, &httpapi.Files{Catalog: d.Catalog()}, &httpapi.Account{Catalog: d.Catalog(), Current: d.Auth().RequireCurrent},
		&httpapi.Kommo{Catalog: d.Catalog()})
}

// Attachments serves the entity directory and attachments, and the
// account's file requests (which attach what they receive).
func Attachments(d *Deps) httpapi.Handler {
	return d.serve(lambdas.Attachments, &httpapi.Entities{Entities: d.Entities(), Catalog: d.Catalog()},
		&httpapi.Kommo{Entities: d.Entities(), Catalog: d.Catalog()}, fileRequests(d))
}

// Batches serves the uploads whose bytes pass through Lambda: Wegly
// batches and Kommo's relayed parts.
func Batches(d *Deps) httpapi.Handler {
	return d.serve(lambdas.Batches, &httpapi.Wegly{Batches: d.Batches()}, &httpapi.Kommo{Relay: d.Relay()})
}

// Tokens serves the account's tokens.
func Tokens(d *Deps) httpapi.Handler {
	return d.serve(lambdas.Tokens, &httpapi.Tokens{Auth: d.Auth()})
}

// Events serves the event feed.
func Events(d *Deps) httpapi.Handler {
	return d.serve(lambdas.Events, &httpapi.Events{Feed: d.Feed()})
}

// Webhooks serves the account's webhooks and their deliveries.
func Webhooks(d *Deps) httpapi.Handler {
	return d.serve(lambdas.Webhooks, &httpapi.Webhooks{Svc: d.Webhooks(), Current: d.Auth().RequireCurrent})
}

func sessions(d *Deps) *httpapi.Sessions { return &httpapi.Sessions{Svc: d.Uploads()} }

func fileRequests(d *Deps) *httpapi.FileRequests {
	return &httpapi.FileRequests{Svc: d.Requests(), Sessions: sessions(d), Current: d.Auth().RequireCurrent, Clock: d.Cfg.Now}
}

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

// Sweeper is the scheduled sweep: trashed files past their window, the
// bytes of batch uploads a crash left uncommitted, upload sessions whose
// parts are all in but which nobody completed (upload.Service.Settle),
// and, where the deployment scans, versions whose malware verdict is
// overdue (scanning.Service.Sweep).
func Sweeper(d *Deps) func(ctx context.Context, ev events.EventBridgeEvent) error {
	sweeps := []triggers.Sweep{
		{Name: "purged", Run: func(ctx context.Context) (int, error) { return d.Catalog().Sweep(ctx) }, Batch: catalog.SweepBatch},
		{Name: "stale_batches", Run: func(ctx context.Context) (int, error) { return d.Batches().Sweep(ctx) }, Batch: batches.SweepBatch},
		{Name: "sessions", Run: func(ctx context.Context) (int, error) { return d.Uploads().Settle(ctx) }, Batch: upload.SettleBatch},
	}
	if d.Cfg.MalwareScanning {
		sweeps = append(sweeps, triggers.Sweep{Name: "overdue_scans", Run: func(ctx context.Context) (int, error) { return d.Scans().Sweep(ctx) },
			Batch: scanning.SweepBatch})
	}
	return triggers.Sweeper(d.Log, sweeps...)
}

// Recorder records the browser form uploads S3 reports.
func Recorder(d *Deps) func(ctx context.Context, ev events.S3Event) error {
	return triggers.Recorder(d.Log, d.Uploads())
}

// Scans records the malware verdicts GuardDuty reports.
func Scans(d *Deps) func(ctx context.Context, ev events.EventBridgeEvent) error {
	return triggers.Scans(d.Log, d.Cfg.Bucket, d.Scans())
}

// Previews renders the previews of the versions the bus's events are
// about.
func Previews(d *Deps) func(ctx context.Context, ev events.EventBridgeEvent) error {
	return triggers.Previews(d.Log, d.Previews())
}

// Dispatcher routes the outbox records the table's stream reports.
func Dispatcher(d *Deps) func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return triggers.Dispatcher(d.Log, dynamo.StreamRecord, d.Dispatch())
}

// Deliveries makes the webhook deliveries SQS hands it.
func Deliveries(d *Deps) func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	return triggers.Deliveries(d.Log, d.Webhooks(), d.Queue())
}
