// Package lambdas names the deployed Lambda functions (the folders under
// functions/): the HTTP route table assigns its routes to them, the IAM
// policies and the CDK stack are keyed by them.
package lambdas

import "context"

// The functions.
const (
	Authorizer       = "authorizer"
	SessionsOpen     = "sessions-open"
	SessionsParts    = "sessions-parts"
	SessionsComplete = "sessions-complete"
	Files            = "files"
	Attachments      = "attachments"
	Batches          = "batches"    // Wegly batch uploads: bytes pass through Lambda
	Tokens           = "tokens"     // the account's tokens (tokens:admin)
	Companion        = "companion"  // Uppy's companion routes under upload tickets
	Events           = "events"     // the event feed
	Webhooks         = "webhooks"   // the account's webhooks and their deliveries (webhooks:admin)
	Sweeper          = "sweeper"    // scheduled: purges trashed files past their window
	Recorder         = "recorder"   // S3 ObjectCreated:Post: records browser form uploads
	Scans            = "scans"      // EventBridge: records GuardDuty's malware verdicts
	Previews         = "previews"   // EventBridge: renders new versions' previews
	Dispatcher       = "dispatcher" // DynamoDB Streams: routes outbox records to the bus and the deliveries queue
	Deliveries       = "deliveries" // SQS: delivers webhooks
)

// HTTP lists the functions API Gateway invokes, the authorizer first.
var HTTP = []string{Authorizer, SessionsOpen, Companion, SessionsParts, SessionsComplete, Files, Attachments, Batches, Tokens, Events, Webhooks}

// Background lists the functions run by a schedule or an event rather
// than by routes (invoked asynchronously).
var Background = []string{Sweeper, Recorder, Scans, Previews}

// Consumers lists the functions an event source mapping invokes with
// batches it reads (a stream, a queue).
var Consumers = []string{Dispatcher, Deliveries}

// All lists every function.
func All() []string {
	return append(append(append([]string{}, HTTP...), Background...), Consumers...)
}

type consumerKey struct{}

// WithConsumer marks ctx as an invocation of consumer fn by its event
// source mapping (local mode's stand-ins do): the request probe keeps the
// AWS calls of the background routing apart from the request's.
func WithConsumer(ctx context.Context, fn string) context.Context {
	return context.WithValue(ctx, consumerKey{}, fn)
}

// ConsumerOf is the consumer ctx runs for ("" outside one).
func ConsumerOf(ctx context.Context) string {
	fn, _ := ctx.Value(consumerKey{}).(string)
	return fn
}
