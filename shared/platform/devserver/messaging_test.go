package devserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
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
	onBoth(t, "msg", func(t *testing.T, name string, d *app.Deps) {
		ctx := context.Background()
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

// TestBusRulesMatchMoto: a rule on the bus hands the entries its pattern
// matches to its SQS targets — the whole entry, or the part InputPath
// names — on the embedded EventBridge as on moto_server; disabled rules
// and removed targets get nothing. moto_server (5.x) ignores InputPath
// and DisableRule and leaves out the entry's account, which EventBridge
// does not: those are checked on the embedded one only, as is an API
// destination getting the entry over HTTP with its connection's API key.
func TestBusRulesMatchMoto(t *testing.T) {
	onBoth(t, "rules", func(t *testing.T, name string, d *app.Deps) {
		ctx := context.Background()
		eb, bus := d.EventBridge(), d.Cfg.BusName
		queue := func(name string) (string, string) {
			q, err := d.SQS().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testenv.Unique(name))})
			if err != nil {
				t.Fatal(err)
			}
			a, err := d.SQS().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
			if err != nil {
				t.Fatal(err)
			}
			return aws.ToString(q.QueueUrl), a.Attributes["QueueArn"]
		}
		rule := func(name, pattern string, tg ebtypes.Target) {
			if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventBusName: &bus, EventPattern: &pattern}); err != nil {
				t.Fatal(err)
			}
			out, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), EventBusName: &bus, Targets: []ebtypes.Target{tg}})
			if err != nil || out.FailedEntryCount != 0 {
				t.Fatalf("put targets: %v %+v", err, out)
			}
		}
		oneAccount, oneAccountARN := queue("acct-a")
		files, filesARN := queue("files")
		off, offARN := queue("off")
		rule("acct-a", `{"source":["anexo"],"detail":{"account_id":["acct-a"]}}`, ebtypes.Target{Id: aws.String("q"), Arn: &oneAccountARN})
		emb := name == "embedded"
		filesTarget := ebtypes.Target{Id: aws.String("q"), Arn: &filesARN}
		if emb {
			filesTarget.InputPath = aws.String("$.detail")
		}
		rule("files", `{"detail-type":[{"prefix":"file."}]}`, filesTarget)
		rule("off", `{"source":["anexo"]}`, ebtypes.Target{Id: aws.String("q"), Arn: &offARN})
		if _, err := eb.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String("off"), EventBusName: &bus}); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), EventBusName: &bus, EventPattern: aws.String(`{"source":"anexo"}`)}); err == nil {
			t.Fatal("a pattern with a bare value was accepted")
		}

		evs := []outbox.Envelope{
			{AccountID: "acct-a", Event: outbox.Event{ID: "1", Type: outbox.FileCreated, Time: time.Now()}},
			{AccountID: "acct-b", Event: outbox.Event{ID: "2", Type: outbox.FileCreated, Time: time.Now()}},
			{AccountID: "acct-a", Event: outbox.Event{ID: "3", Type: outbox.WebhookDisabled, Time: time.Now()}},
		}
		if err := d.Bus().Publish(ctx, evs); err != nil {
			t.Fatal(err)
		}
		drain := func(q string) []map[string]any {
			var out []map[string]any
			for range 3 {
				r, err := d.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &q, MaxNumberOfMessages: 10})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range r.Messages {
					var v map[string]any
					if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &v); err != nil {
						t.Fatalf("%s: %v", aws.ToString(m.Body), err)
					}
					out = append(out, v)
				}
				if len(r.Messages) == 0 { // both deliver within PutEvents
					break
				}
			}
			return out
		}
		ids := func(entries []map[string]any, detailOf func(map[string]any) map[string]any) []string {
			var out []string
			for _, e := range entries {
				out = append(out, fmt.Sprint(detailOf(e)["id"]))
			}
			slices.Sort(out)
			return out
		}
		whole := func(e map[string]any) map[string]any {
			if e["source"] != "anexo" || e["version"] != "0" || e["detail-type"] == nil || emb && e["account"] == nil || e["time"] == nil {
				t.Errorf("not an EventBridge entry: %v", e)
			}
			d, _ := e["detail"].(map[string]any)
			return d
		}
		if got := ids(drain(oneAccount), whole); !slices.Equal(got, []string{"1", "3"}) {
			t.Errorf("the account's rule got events %v, want 1 and 3", got)
		}
		detail := whole
		if emb {
			detail = func(e map[string]any) map[string]any { return e }
		}
		if got := ids(drain(files), detail); !slices.Equal(got, []string{"1", "2"}) {
			t.Errorf("the file.* rule got events %v, want 1 and 2", got)
		}
		if got := drain(off); emb && len(got) != 0 {
			t.Errorf("a disabled rule delivered %v", got)
		}
		if _, err := eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("acct-a"), EventBusName: &bus, Ids: []string{"q"}}); err != nil {
			t.Fatal(err)
		}
		if err := d.Bus().Publish(ctx, evs[:1]); err != nil {
			t.Fatal(err)
		}
		if got := drain(oneAccount); len(got) != 0 {
			t.Errorf("a removed target got %v", got)
		}
		if name != "embedded" {
			return
		}
		got := make(chan *http.Request, 1)
		var body []byte
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ = io.ReadAll(r.Body)
			got <- r
		}))
		defer srv.Close()
		conn, err := eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("crm"), AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
			AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{
				ApiKeyName: aws.String("X-Api-Key"), ApiKeyValue: aws.String("s3cret")}}})
		if err != nil {
			t.Fatal(err)
		}
		dest, err := eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("crm"), ConnectionArn: conn.ConnectionArn,
			InvocationEndpoint: aws.String(srv.URL + "/anexo"), HttpMethod: ebtypes.ApiDestinationHttpMethodPost})
		if err != nil {
			t.Fatal(err)
		}
		rule("http", `{"detail":{"account_id":["acct-b"]}}`, ebtypes.Target{Id: aws.String("h"), Arn: dest.ApiDestinationArn})
		if err := d.Bus().Publish(ctx, evs); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-got:
			var e map[string]any
			if r.Header.Get("X-Api-Key") != "s3cret" || r.URL.Path != "/anexo" || json.Unmarshal(body, &e) != nil || whole(e)["id"] != "2" {
				t.Fatalf("API destination got %s %s %v: %s", r.Method, r.URL, r.Header, body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the API destination got nothing")
		}
	})
}

// onBoth runs f against the embedded SQS and EventBridge and against
// moto_server, with an app's queues and bus provisioned there (table
// names prefixed).
func onBoth(t *testing.T, prefix string, f func(t *testing.T, name string, d *app.Deps)) {
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
			d, err := awsconfig.App(ctx, app.Config{Region: "us-east-1", Table: testenv.Unique(prefix), BusName: testenv.Unique("bus"),
				SQSEndpoint: u, EventsEndpoint: u, AccessKey: "test", SecretKey: "test"})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.ProvisionMessaging(ctx); err != nil {
				t.Fatal(err)
			}
			f(t, name, d)
		})
	}
}
