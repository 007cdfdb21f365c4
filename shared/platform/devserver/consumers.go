package devserver

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/anexo/anexo/shared/domain/webhooks"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/app"
)

// consumeQueue invokes the delivery function with the deliveries queue's
// messages, as the SQS event source mapping does — with the function's own
// role (its client, its IAM policy enforced): it receives up to ten,
// invokes, and deletes those the function did not report as failed.
// Failed ones stay; they come back when their visibility ends (the
// function set it to the wait before their next attempt). Up to
// webhooks.Concurrency invocations run at once, as the stack's mapping
// allows: a batch waiting on a slow endpoint delays no other batch.
// running counts the invocations under way.
func consumeQueue(ctx context.Context, fn *app.Deps, every time.Duration, running *atomic.Int64) {
	deliver := app.Deliveries(fn)
	ctx = lambdas.WithConsumer(ctx, lambdas.Deliveries)
	url := fn.Cfg.QueueURL
	attrs, err := fn.SQS().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		fn.Log.Error("deliveries queue unreadable: webhooks are not delivered", "function", lambdas.Deliveries, "err", err)
		return
	}
	arn := attrs.Attributes[string(types.QueueAttributeNameQueueArn)]
	t := time.NewTicker(every)
	defer t.Stop()
	slots := make(chan struct{}, webhooks.Concurrency)
	var invocations sync.WaitGroup
	defer invocations.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case slots <- struct{}{}:
		}
		out, err := fn.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: webhooks.QueueBatch,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
		if err == nil && len(out.Messages) > 0 {
			running.Add(1)
			ev := events.SQSEvent{}
			for _, m := range out.Messages {
				ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
					Body: aws.ToString(m.Body), Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: m.Attributes,
					EventSource: "aws:sqs", EventSourceARN: arn, AWSRegion: fn.Cfg.Region})
			}
			invocations.Go(func() {
				defer func() { running.Add(-1); <-slots }()
				invoke(ctx, fn, deliver, url, ev)
			})
			continue // more may be waiting
		}
		<-slots
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// invoke runs one batch and deletes the messages it did not report failed.
func invoke(ctx context.Context, fn *app.Deps, deliver func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), url string, ev events.SQSEvent) {
	res, err := deliver(ctx, ev)
	var done []types.DeleteMessageBatchRequestEntry
	for _, r := range ev.Records {
		if err == nil && !slices.ContainsFunc(res.BatchItemFailures, func(f events.SQSBatchItemFailure) bool { return f.ItemIdentifier == r.MessageId }) {
			done = append(done, types.DeleteMessageBatchRequestEntry{Id: aws.String(r.MessageId), ReceiptHandle: aws.String(r.ReceiptHandle)})
		}
	}
	if len(done) > 0 {
		_, _ = fn.SQS().DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: done})
	}
}
