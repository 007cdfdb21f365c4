// Package eventbus publishes events to an EventBridge bus: each event one
// entry (source "anexo", detail-type the event type, detail the event with
// its account), so customers route them with their own rules.
package eventbus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/anexo/anexo/shared/adapters/batchsend"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// Source is every entry's source: rules match it.
const Source = "anexo"

// Limits of one PutEvents call.
const (
	MaxEntries = 10
	MaxBytes   = 256 << 10 // all entries of a call
)

// API is the slice of the EventBridge client the bus uses.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Bus is one event bus.
type Bus struct {
	api  API
	name string
}

// New returns the bus named name.
func New(api API, name string) *Bus { return &Bus{api: api, name: name} }

// Publish implements dispatch.Bus: entries of up to ten (and 256 KiB) per
// call; entries EventBridge fails (throttled, say) are sent again, up to
// five times, then the publication fails.
func (b *Bus) Publish(ctx context.Context, evs []outbox.Envelope) error {
	entries := make([]types.PutEventsRequestEntry, 0, len(evs))
	for _, e := range evs {
		detail, err := json.Marshal(e)
		if err != nil {
			return err
		}
		entries = append(entries, types.PutEventsRequestEntry{EventBusName: &b.name, Source: aws.String(Source),
			DetailType: aws.String(string(e.Type)), Detail: aws.String(string(detail)), Time: aws.Time(e.Time)})
	}
	for _, call := range batchsend.Split(entries, batchsend.Limits{Entries: MaxEntries, Bytes: MaxBytes}, entrySize) {
		if err := batchsend.Send(ctx, call, func(es []types.PutEventsRequestEntry) ([]types.PutEventsRequestEntry, error) { return b.put(ctx, es) }); err != nil {
			return fmt.Errorf("eventbus: %w", err)
		}
	}
	return nil
}

// entrySize is an entry's size as EventBridge counts it.
func entrySize(e types.PutEventsRequestEntry) int {
	return 14 + len(aws.ToString(e.Source)) + len(aws.ToString(e.DetailType)) + len(aws.ToString(e.Detail))
}

// put makes one PutEvents call; it returns the entries EventBridge failed.
func (b *Bus) put(ctx context.Context, entries []types.PutEventsRequestEntry) ([]types.PutEventsRequestEntry, error) {
	out, err := b.api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil || out.FailedEntryCount == 0 {
		return nil, err
	}
	var again []types.PutEventsRequestEntry
	var why error
	for i, r := range out.Entries {
		if r.ErrorCode != nil && i < len(entries) {
			again, why = append(again, entries[i]), fmt.Errorf("%s: %s", aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
		}
	}
	return again, why
}
