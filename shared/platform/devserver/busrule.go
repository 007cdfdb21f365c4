package devserver

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"

	"github.com/aws/aws-lambda-go/events"

	"github.com/anexo/anexo/shared/adapters/eventbus"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/inbound/triggers"
)

// previewEvents is the pattern of the stack's rule for the previews
// function: the deployment's version events (triggers.PreviewTypes).
func previewEvents(ev PutEvent) bool {
	return ev.Source == eventbus.Source && slices.Contains(triggers.PreviewTypes, outbox.Type(ev.DetailType))
}

// busRule stands in for an EventBridge rule with a Lambda target, the
// function name: each entry of bus that match takes is handed to fn
// asynchronously (marked as that function's invocation, apart from any
// request's), four at a time (invokeTarget).
func busRule(ctx context.Context, log *slog.Logger, bus string, match func(PutEvent) bool, name string,
	fn func(context.Context, events.EventBridgeEvent) error) func(string, PutEvent) {
	ctx = lambdas.WithConsumer(ctx, name)
	slots := make(chan struct{}, 4)
	return func(to string, ev PutEvent) {
		if to != bus || !match(ev) {
			return
		}
		e := events.EventBridgeEvent{Version: "0", ID: ev.ID, Source: ev.Source, DetailType: ev.DetailType, AccountID: awsAccount,
			Time: ev.Time, Region: region, Detail: json.RawMessage(ev.Detail)}
		go func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			invokeTarget(ctx, log, fn, e)
		}()
	}
}

// invokeTarget hands ev to a rule's Lambda target as EventBridge does: retried
// twice (the stack's retry policy), a last failure logged (the stack
// sends it to its failure destination).
func invokeTarget(ctx context.Context, log *slog.Logger, fn func(context.Context, events.EventBridgeEvent) error, ev events.EventBridgeEvent) {
	var err error
	for try := 0; try < 3 && ctx.Err() == nil; try++ {
		if err = fn(ctx, ev); err == nil {
			return
		}
	}
	if ctx.Err() == nil {
		log.ErrorContext(ctx, "rule target: the function failed the event", "source", ev.Source, "type", ev.DetailType, "event_id", ev.ID, "err", err)
	}
}
