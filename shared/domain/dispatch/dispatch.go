// Package dispatch routes the events the state changes wrote: every event
// to the event bus (where customers add their own rules and targets), and
// one queued delivery per event and webhook that wants it. DynamoDB
// Streams feed it the outbox records as they are written; local mode
// feeds it the same records from its embedded table.
//
// It is at-least-once: a step that fails is dispatched again (the stream
// retries from its first record), so an event can reach the bus or a
// webhook's queue twice — always with the same id (the entry's detail id,
// the webhook-id header), never a new one.
package dispatch

import (
	"context"

	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

// The dispatcher's event source mapping on the table's stream (the stack
// and local mode set both): batches of up to StreamBatch records; a batch
// that fails is retried StreamRetries times (halved each time to isolate
// a bad record), then sent to the failure queue.
const (
	StreamBatch   = 100
	StreamRetries = 10
)

// Bus publishes events (EventBridge).
type Bus interface {
	Publish(ctx context.Context, evs []outbox.Envelope) error
}

// Queue queues webhook deliveries (SQS).
type Queue interface {
	Enqueue(ctx context.Context, ms []webhooks.Message) error
}

// Webhooks lists an account's webhooks.
type Webhooks interface {
	Webhooks(ctx context.Context, account string) ([]webhooks.Webhook, error)
}

// Dispatcher routes records.
type Dispatcher struct {
	Bus      Bus
	Queue    Queue
	Webhooks Webhooks
}

// Stats counts what a dispatch did (Deliveries: events to webhooks, each
// change's to one webhook queued as one message). Done is the records dispatched whole
// (their events published and their deliveries queued): all of them, or,
// with an error, those before the first that was not.
type Stats struct {
	Records, Events, Deliveries, Done int
}

// Chunk is how many events a dispatch step publishes (an EventBridge
// PutEvents call's limit): a step takes the next records whose events fit
// (or one record with more), publishes them and queues their deliveries.
const Chunk = 10

// Dispatch publishes the records' events and queues their deliveries, in
// the records' order and step by step (Chunk): one Query of webhooks per
// account in the batch, the events to the bus in entries of up to ten, the
// deliveries in batches of up to ten. An error stops it at the step that
// failed: Stats.Done says how many records are dispatched, and only the
// rest is to be dispatched again (the stream's partial batch failure), so
// a retry repeats at most the events of one step.
func (d *Dispatcher) Dispatch(ctx context.Context, recs []outbox.Record) (Stats, error) {
	st := Stats{Records: len(recs)}
	hooks := map[string][]webhooks.Webhook{}
	for start := 0; start < len(recs); {
		var evs []outbox.Envelope
		var ms []webhooks.Message
		deliveries := 0
		end := start
		for end < len(recs) && (end == start || len(evs)+len(recs[end].Events) <= Chunk) {
			r := recs[end]
			ws, seen := hooks[r.AccountID]
			if !seen {
				var err error
				if ws, err = d.Webhooks.Webhooks(ctx, r.AccountID); err != nil {
					return st, err
				}
				hooks[r.AccountID] = ws
			}
			envs := r.Envelopes()
			evs = append(evs, envs...)
			for _, w := range ws {
				// one message per change and webhook: its events go in their order
				if m, ok := webhooks.MessageOf(w, r.Position, envs); ok {
					ms = append(ms, m)
					deliveries += len(m.Events)
				}
			}
			end++
		}
		if len(evs) > 0 {
			if err := d.Bus.Publish(ctx, evs); err != nil {
				return st, err
			}
		}
		if len(ms) > 0 {
			if err := d.Queue.Enqueue(ctx, ms); err != nil {
				return st, err
			}
		}
		st.Events, st.Deliveries, st.Done = st.Events+len(evs), st.Deliveries+deliveries, end
		start = end
	}
	return st, nil
}
