// Package sqsqueue queues webhook deliveries on SQS: the dispatcher sends
// one message per delivery, the delivery function postpones a failed one
// (its visibility timeout is the wait before the next attempt) and moves
// it to the dead-letter queue after the last.
package sqsqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/anexo/anexo/shared/adapters/batchsend"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

// Limits of one SendMessageBatch call, and of a visibility timeout.
const (
	MaxEntries    = 10
	MaxBytes      = 256 << 10
	MaxVisibility = 12 * time.Hour
)

// API is the slice of the SQS client the queue uses.
type API interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Queue is the deliveries queue and its dead-letter queue.
type Queue struct {
	api       API
	url, dead string
}

// New returns the queue at url, whose given-up messages go to the queue at
// dead.
func New(api API, url, dead string) *Queue { return &Queue{api: api, url: url, dead: dead} }

// Enqueue implements dispatch.Queue: batches of up to ten messages (and
// 256 KiB); entries SQS fails are sent again, up to five times; one SQS
// refuses as the sender's fault fails it at once.
func (q *Queue) Enqueue(ctx context.Context, ms []webhooks.Message) error {
	entries := make([]types.SendMessageBatchRequestEntry, 0, len(ms))
	for _, m := range ms {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		entries = append(entries, types.SendMessageBatchRequestEntry{MessageBody: aws.String(string(b))})
	}
	size := func(e types.SendMessageBatchRequestEntry) int { return len(aws.ToString(e.MessageBody)) }
	for _, call := range batchsend.Split(entries, batchsend.Limits{Entries: MaxEntries, Bytes: MaxBytes}, size) {
		for i := range call {
			call[i].Id = aws.String(strconv.Itoa(i))
		}
		if err := batchsend.Send(ctx, call, func(es []types.SendMessageBatchRequestEntry) ([]types.SendMessageBatchRequestEntry, error) {
			return q.send(ctx, es)
		}); err != nil {
			return fmt.Errorf("sqsqueue: %w", err)
		}
	}
	return nil
}

// send makes one SendMessageBatch call; it returns the entries SQS failed
// on its side.
func (q *Queue) send(ctx context.Context, entries []types.SendMessageBatchRequestEntry) ([]types.SendMessageBatchRequestEntry, error) {
	out, err := q.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q.url, Entries: entries})
	if err != nil || len(out.Failed) == 0 {
		return nil, err
	}
	byID := map[string]types.SendMessageBatchRequestEntry{}
	for _, e := range entries {
		byID[aws.ToString(e.Id)] = e
	}
	var again []types.SendMessageBatchRequestEntry
	var why error
	for _, f := range out.Failed {
		why = fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
		if f.SenderFault {
			return nil, fmt.Errorf("message refused: %w", why)
		}
		again = append(again, byID[aws.ToString(f.Id)])
	}
	return again, why
}

// Delay makes a received message visible again after d (at most 12 hours,
// SQS's limit): the wait before a delivery's next attempt.
func (q *Queue) Delay(ctx context.Context, receipt string, d time.Duration) error {
	secs := int32(math.Ceil(min(d, MaxVisibility).Seconds()))
	_, err := q.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &q.url, ReceiptHandle: &receipt, VisibilityTimeout: secs})
	return err
}

// GiveUp sends a message whose last attempt failed to the dead-letter
// queue (the caller then deletes it from the deliveries queue).
func (q *Queue) GiveUp(ctx context.Context, body string) error {
	if q.dead == "" {
		return fmt.Errorf("no dead-letter queue configured (DELIVERY_DLQ_URL)")
	}
	_, err := q.api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q.dead, MessageBody: &body})
	return err
}
