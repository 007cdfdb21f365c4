package e2e_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/pb33f/jsonschema/v6"

	"github.com/anexo/anexo/shared/inbound/openapi/openapitest"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// busRule does what an integrator does to consume the bus: a queue, and a
// rule on the stack's bus with pattern whose target it is. The function
// it returns drains the queue, checking each entry against
// events/bus/event.schema.json.
func (e *env) busRule(t *testing.T, pattern string) func() []map[string]any {
	t.Helper()
	ctx := context.Background()
	d := e.srv.Deps
	q, err := d.SQS().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testenv.Unique("bus-consumer"))})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := d.SQS().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	name, bus := testenv.Unique("consumer"), d.Cfg.BusName
	if _, err := d.EventBridge().PutRule(ctx, &eventbridge.PutRuleInput{Name: &name, EventBusName: &bus, EventPattern: &pattern}); err != nil {
		t.Fatal(err)
	}
	out, err := d.EventBridge().PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: &name, EventBusName: &bus,
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes["QueueArn"])}}})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("put targets: %v %+v", err, out)
	}
	schema := openapitest.BusSchema(t)
	return func() []map[string]any {
		t.Helper()
		var entries []map[string]any
		for {
			r, err := d.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Messages) == 0 {
				return entries
			}
			for _, m := range r.Messages {
				v, err := jsonschema.UnmarshalJSON(strings.NewReader(aws.ToString(m.Body)))
				if err == nil {
					err = schema.Validate(v)
				}
				var entry map[string]any
				if err != nil || json.Unmarshal([]byte(aws.ToString(m.Body)), &entry) != nil {
					t.Fatalf("bus entry %s: %v", aws.ToString(m.Body), err)
				}
				entries = append(entries, entry)
				if _, err := d.SQS().DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
