package memory

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

// Bus stands in for the event bus on the memory drivers: it takes every
// event, as EventBridge does when no rule matches (dispatch.Bus).
type Bus struct{}

// Publish implements dispatch.Bus.
func (Bus) Publish(context.Context, []outbox.Envelope) error { return nil }

// Queue is the deliveries queue in memory: it keeps the messages sent, in
// order, and the waits set on received ones (dispatch.Queue,
// triggers.Postponer).
type Queue struct {
	mu     sync.Mutex
	sent   []webhooks.Message
	delays map[string]time.Duration // by receipt handle
	dead   []string                 // the bodies given up, in order
}

// Enqueue implements dispatch.Queue.
func (q *Queue) Enqueue(_ context.Context, ms []webhooks.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent = append(q.sent, ms...)
	return nil
}

// Delay implements triggers.Postponer.
func (q *Queue) Delay(_ context.Context, receipt string, d time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.delays == nil {
		q.delays = map[string]time.Duration{}
	}
	q.delays[receipt] = d
	return nil
}

// GiveUp implements triggers.Postponer: the message's body goes to the
// dead letters.
func (q *Queue) GiveUp(_ context.Context, body string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dead = append(q.dead, body)
	return nil
}

// GivenUp is the bodies given up so far.
func (q *Queue) GivenUp() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.dead)
}

// Sent is every message queued so far.
func (q *Queue) Sent() []webhooks.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.sent)
}

// Delayed is the wait last set on a received message.
func (q *Queue) Delayed(receipt string) (time.Duration, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d, ok := q.delays[receipt]
	return d, ok
}
