package eventbus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/anexo/anexo/shared/adapters/eventbus"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// api fails the entries whose detail contains fail, failing times each.
type api struct {
	calls   [][]string
	fail    string
	failing int
}

func (a *api) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	out := &eventbridge.PutEventsOutput{}
	var ids []string
	for _, e := range in.Entries {
		ids = append(ids, aws.ToString(e.DetailType))
		if a.fail != "" && strings.Contains(aws.ToString(e.Detail), a.fail) && a.failing > 0 {
			a.failing--
			out.FailedEntryCount++
			out.Entries = append(out.Entries, types.PutEventsResultEntry{ErrorCode: aws.String("ThrottlingException")})
			continue
		}
		out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String("x")})
	}
	a.calls = append(a.calls, ids)
	return out, nil
}

func envelopes(n int, size int) []outbox.Envelope {
	var out []outbox.Envelope
	for i := range n {
		out = append(out, outbox.Envelope{Event: outbox.Event{ID: string(rune('a' + i%26)), Type: outbox.FileCreated, Time: time.Now(),
			Data: []byte(`"` + strings.Repeat("x", size) + `"`)}, AccountID: "acct"})
	}
	return out
}

// TestPublish: entries go ten (and at most 256 KiB) a call; an entry
// EventBridge fails is sent again, and one that keeps failing fails the
// publication.
func TestPublish(t *testing.T) {
	a := &api{}
	if err := eventbus.New(a, "bus").Publish(context.Background(), envelopes(25, 10)); err != nil {
		t.Fatal(err)
	}
	if len(a.calls) != 3 || len(a.calls[0]) != 10 || len(a.calls[2]) != 5 {
		t.Fatalf("calls %v", a.calls)
	}
	a = &api{}
	if err := eventbus.New(a, "bus").Publish(context.Background(), envelopes(4, 100<<10)); err != nil || len(a.calls) != 2 {
		t.Fatalf("4 entries of 100 KiB: %d calls, %v", len(a.calls), err)
	}
	evs := envelopes(3, 10)
	evs[1].Data = []byte(`"fail-me"`)
	a = &api{fail: "fail-me", failing: 2}
	if err := eventbus.New(a, "bus").Publish(context.Background(), evs); err != nil || len(a.calls) != 3 || len(a.calls[2]) != 1 {
		t.Fatalf("a throttled entry: %v, calls %v", err, a.calls)
	}
	a = &api{fail: "fail-me", failing: 100}
	if err := eventbus.New(a, "bus").Publish(context.Background(), evs); err == nil || len(a.calls) != 5 {
		t.Fatalf("an entry that keeps failing: %v after %d calls", err, len(a.calls))
	}
}
