package sqsqueue_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/anexo/anexo/shared/adapters/sqsqueue"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

type api struct {
	sent       [][]string
	failing    int
	sender     bool
	visibility []int32
	dead       []string // queue URL: body
}

func (a *api) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	a.dead = append(a.dead, aws.ToString(in.QueueUrl)+": "+aws.ToString(in.MessageBody))
	return &sqs.SendMessageOutput{}, nil
}

func (a *api) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out := &sqs.SendMessageBatchOutput{}
	var ids []string
	for _, e := range in.Entries {
		ids = append(ids, aws.ToString(e.Id))
		if strings.Contains(aws.ToString(e.MessageBody), "fail-me") && a.failing > 0 {
			a.failing--
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), SenderFault: a.sender})
		}
	}
	a.sent = append(a.sent, ids)
	return out, nil
}

func (a *api) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	a.visibility = append(a.visibility, in.VisibilityTimeout)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func messages(n int) []webhooks.Message {
	var out []webhooks.Message
	for range n {
		out = append(out, webhooks.Message{WebhookID: "w", Events: []outbox.Envelope{{Event: outbox.Event{ID: "e", Type: outbox.FileCreated, Time: time.Now()}}}})
	}
	return out
}

// TestEnqueue: ten messages a call; an entry SQS fails on its side is sent
// again, one refused as the sender's fault fails at once; a delay is the
// visibility in whole seconds, at most 12 hours; a message given up goes to
// the dead-letter queue.
func TestEnqueue(t *testing.T) {
	ctx := context.Background()
	a := &api{}
	if err := sqsqueue.New(a, "q", "dlq").Enqueue(ctx, messages(23)); err != nil || len(a.sent) != 3 || len(a.sent[2]) != 3 {
		t.Fatalf("%v, calls %v", err, a.sent)
	}
	ms := messages(3)
	ms[1].WebhookID = "fail-me"
	a = &api{failing: 1}
	if err := sqsqueue.New(a, "q", "dlq").Enqueue(ctx, ms); err != nil || len(a.sent) != 2 || len(a.sent[1]) != 1 || a.sent[1][0] != "1" {
		t.Fatalf("a failed entry: %v, calls %v", err, a.sent)
	}
	a = &api{failing: 1, sender: true}
	if err := sqsqueue.New(a, "q", "dlq").Enqueue(ctx, ms); err == nil || len(a.sent) != 1 {
		t.Fatalf("a refused entry: %v, calls %v", err, a.sent)
	}
	q := sqsqueue.New(a, "q", "dlq")
	for _, d := range []time.Duration{0, 1500 * time.Millisecond, 10 * time.Hour, 30 * time.Hour} {
		if err := q.Delay(ctx, "r", d); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.visibility; len(got) != 4 || got[0] != 0 || got[1] != 2 || got[2] != 36000 || got[3] != 43200 {
		t.Fatalf("visibility %v", got)
	}
	if err := q.GiveUp(ctx, "{}"); err != nil || len(a.dead) != 1 || a.dead[0] != "dlq: {}" {
		t.Fatalf("given up: %v %v", err, a.dead)
	}
	if err := sqsqueue.New(a, "q", "").GiveUp(ctx, "{}"); err == nil {
		t.Fatal("given up without a dead-letter queue")
	}
}
