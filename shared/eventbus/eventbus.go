// Package eventbus publishes events to an EventBridge bus: each event one
// entry (source "anexo", detail-type the event type, detail the event with
// its account), so customers route them with their own rules.
package eventbus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/anexo/anexo/shared/events"
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
func (b *Bus) Publish(ctx context.Context, evs []events.Envelope) error {
	var batch []types.PutEventsRequestEntry
	size := 0
	for _, e := range evs {
		detail, err := json.Marshal(e)
		if err != nil {
			return err
		}
		entry := types.PutEventsRequestEntry{EventBusName: &b.name, Source: aws.String(Source), DetailType: aws.String(string(e.Type)),
			Detail: aws.String(string(detail)), Time: aws.Time(e.Time)}
		n := entrySize(entry)
		if len(batch) == MaxEntries || (len(batch) > 0 && size+n > MaxBytes) {
			if err := b.put(ctx, batch); err != nil {
				return err
			}
			batch, size = nil, 0
		}
		batch, size = append(batch, entry), size+n
	}
	if len(batch) == 0 {
		return nil
	}
	return b.put(ctx, batch)
}

// entrySize is an entry's size as EventBridge counts it.
func entrySize(e types.PutEventsRequestEntry) int {
	return 14 + len(aws.ToString(e.Source)) + len(aws.ToString(e.DetailType)) + len(aws.ToString(e.Detail))
}

func (b *Bus) put(ctx context.Context, entries []types.PutEventsRequestEntry) error {
	for attempt := 0; ; attempt++ {
		out, err := b.api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return err
		}
		if out.FailedEntryCount == 0 {
			return nil
		}
		var again []types.PutEventsRequestEntry
		var last string
		for i, r := range out.Entries {
			if r.ErrorCode != nil && i < len(entries) {
				again, last = append(again, entries[i]), aws.ToString(r.ErrorCode)+": "+aws.ToString(r.ErrorMessage)
			}
		}
		if attempt == 4 || len(again) == 0 {
			return fmt.Errorf("eventbus: %d of %d entries failed (%s)", out.FailedEntryCount, len(entries), last)
		}
		entries = again
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
		}
	}
}
