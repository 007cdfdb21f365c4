// Package sqsqueue queues webhook deliveries on SQS: the dispatcher sends
// one message per delivery, the delivery function postpones a failed one
// (its visibility timeout is the wait before the next attempt) and SQS
// moves it to the dead-letter queue after the last.
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

	"github.com/anexo/anexo/shared/webhooks"
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
}

// Queue is the deliveries queue.
type Queue struct {
	api API
	url string
}

// New returns the queue at url.
func New(api API, url string) *Queue { return &Queue{api: api, url: url} }

// Enqueue implements dispatch.Queue: batches of up to ten messages (and
// 256 KiB); entries SQS fails are sent again, up to five times.
func (q *Queue) Enqueue(ctx context.Context, ms []webhooks.Message) error {
	var batch []types.SendMessageBatchRequestEntry
	size := 0
	for _, m := range ms {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if len(batch) == MaxEntries || (len(batch) > 0 && size+len(b) > MaxBytes) {
			if err := q.send(ctx, batch); err != nil {
				return err
			}
			batch, size = nil, 0
		}
		batch = append(batch, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(len(batch))), MessageBody: aws.String(string(b))})
		size += len(b)
	}
	if len(batch) == 0 {
		return nil
	}
	return q.send(ctx, batch)
}

func (q *Queue) send(ctx context.Context, entries []types.SendMessageBatchRequestEntry) error {
	for attempt := 0; ; attempt++ {
		out, err := q.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			return err
		}
		if len(out.Failed) == 0 {
			return nil
		}
		byID := map[string]types.SendMessageBatchRequestEntry{}
		for _, e := range entries {
			byID[aws.ToString(e.Id)] = e
		}
		var again []types.SendMessageBatchRequestEntry
		for _, f := range out.Failed {
			if f.SenderFault {
				return fmt.Errorf("sqsqueue: message refused: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
			}
			again = append(again, byID[aws.ToString(f.Id)])
		}
		if attempt == 4 {
			return fmt.Errorf("sqsqueue: %d of %d messages failed (%s)", len(out.Failed), len(entries), aws.ToString(out.Failed[0].Code))
		}
		entries = again
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
		}
	}
}

// Delay makes a received message visible again after d (at most 12 hours,
// SQS's limit): the wait before a delivery's next attempt.
func (q *Queue) Delay(ctx context.Context, receipt string, d time.Duration) error {
	secs := int32(math.Ceil(min(d, MaxVisibility).Seconds()))
	_, err := q.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &q.url, ReceiptHandle: &receipt, VisibilityTimeout: secs})
	return err
}
