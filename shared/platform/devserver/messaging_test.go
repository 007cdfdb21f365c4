package devserver_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/platform/awsconfig"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// TestMessagingMatchesMoto runs the queue and bus semantics Anexo relies
// on against the embedded SQS and EventBridge and against moto_server,
// through the same adapters: batches of messages sent and received once
// each with their receive count, a message made visible again at once
// received again, moved to the dead-letter queue after maxReceiveCount
// receives or when given up, a stale receipt refused, events published in
// entries of ten.
func TestMessagingMatchesMoto(t *testing.T) {
	embedded := func(t *testing.T) string {
		m, err := devserver.StartMessaging(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		return m.URL
	}
	for name, endpoint := range map[string]func(*testing.T) string{"embedded": embedded, "moto": func(t *testing.T) string { return testenv.Moto(t) }} {
		t.Run(name, func(t *testing.T) {
			u := endpoint(t)
			ctx := context.Background()
			d, err := awsconfig.App(ctx, app.Config{Region: "us-east-1", Table: testenv.Unique("msg"), BusName: testenv.Unique("bus"),
				SQSEndpoint: u, EventsEndpoint: u, AccessKey: "test", SecretKey: "test"})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.ProvisionMessaging(ctx); err != nil {
				t.Fatal(err)
			}
			var ms []webhooks.Message
			for i := range 12 {
				ms = append(ms, webhooks.Message{WebhookID: "w", Events: []outbox.Envelope{{Event: outbox.Event{ID: strconv.Itoa(i), Type: outbox.FileCreated, Time: time.Now()}}}})
			}
			if err := d.Queue().Enqueue(ctx, ms); err != nil {
				t.Fatal(err)
			}
			receive := func(queue string) []types.Message {
				out, err := d.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queue, MaxNumberOfMessages: 10,
					MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
				if err != nil {
					t.Fatal(err)
				}
				return out.Messages
			}
			q := d.Cfg.QueueURL
			got := append(receive(q), receive(q)...)
			seen := map[string]bool{}
			for _, m := range got {
				seen[aws.ToString(m.Body)] = true
				if m.Attributes["ApproximateReceiveCount"] != "1" {
					t.Fatalf("first receive count %v", m.Attributes)
				}
			}
			if len(got) != 12 || len(seen) != 12 || len(receive(q)) != 0 {
				t.Fatalf("received %d messages (%d distinct), want 12 once each", len(got), len(seen))
			}
			// one message, failed every time: visible again at once, then
			// in the dead-letter queue after maxReceiveCount receives
			m := got[0]
			for n := 2; n <= webhooks.MaxReceives+1; n++ {
				if err := d.Queue().Delay(ctx, aws.ToString(m.ReceiptHandle), 0); err != nil {
					t.Fatalf("delay before receive %d: %v", n, err)
				}
				again := receive(q)
				if n > webhooks.MaxReceives {
					if len(again) != 0 {
						t.Fatalf("receive %d: %d messages, want none (moved)", n, len(again))
					}
					break
				}
				if len(again) != 1 || aws.ToString(again[0].Body) != aws.ToString(m.Body) || again[0].Attributes["ApproximateReceiveCount"] != fmt.Sprint(n) {
					t.Fatalf("receive %d: %v", n, again)
				}
				if n == 2 {
					if err := d.Queue().Delay(ctx, aws.ToString(m.ReceiptHandle), 0); err == nil && name == "embedded" {
						t.Fatal("a stale receipt was accepted")
					}
				}
				m = again[0]
			}
			dlq, err := d.SQS().GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(d.Cfg.Table + "-deliveries-dlq")})
			if err != nil {
				t.Fatal(err)
			}
			// another given up by the delivery function
			if err := d.Queue().GiveUp(ctx, aws.ToString(got[1].Body)); err != nil {
				t.Fatal(err)
			}
			dead := map[string]bool{}
			for _, m := range append(receive(aws.ToString(dlq.QueueUrl)), receive(aws.ToString(dlq.QueueUrl))...) {
				dead[aws.ToString(m.Body)] = true
			}
			if len(dead) != 2 || !dead[aws.ToString(m.Body)] || !dead[aws.ToString(got[1].Body)] {
				t.Fatalf("dead-letter queue: %v", dead)
			}
			var evs []outbox.Envelope
			for _, m := range ms {
				evs = append(evs, m.Events...)
			}
			if err := (d.Dispatch().Bus).Publish(ctx, evs); err != nil {
				t.Fatalf("publish: %v", err)
			}
		})
	}
}
