package iam

import (
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// TestRequired: each operation needs the actions the Service Authorization
// Reference lists, on the right resource.
func TestRequired(t *testing.T) {
	tbl, bkt, q := aws.String("t"), aws.String("b"), aws.String("http://sqs/000000000000/deliveries")
	names := Names{Table: "t", Keys: "k", Bucket: "b", Queue: *q, Bus: "bus"}
	for _, tc := range []struct {
		in   any
		want string
	}{
		{&dynamodb.GetItemInput{TableName: tbl}, "dynamodb:GetItem on table"},
		{&dynamodb.QueryInput{TableName: aws.String("k")}, "dynamodb:Query on keys table"},
		{&dynamodb.PutItemInput{TableName: aws.String("k")}, "dynamodb:PutItem on keys table"},
		{&dynamodb.QueryInput{TableName: tbl}, "dynamodb:Query on table"},
		{&dynamodb.QueryInput{TableName: tbl, IndexName: aws.String("gsi2")}, "dynamodb:Query on table/index/gsi2"},
		{&dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{"t": {}}}, "dynamodb:BatchGetItem on table"},
		{&dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
			{ConditionCheck: &ddbtypes.ConditionCheck{TableName: tbl}}, {Put: &ddbtypes.Put{TableName: tbl}},
			{Update: &ddbtypes.Update{TableName: tbl}}, {Delete: &ddbtypes.Delete{TableName: tbl}}}},
			"dynamodb:ConditionCheckItem on table, dynamodb:PutItem on table, dynamodb:UpdateItem on table, dynamodb:DeleteItem on table"},
		{&dynamodb.TransactGetItemsInput{TransactItems: []ddbtypes.TransactGetItem{{Get: &ddbtypes.Get{TableName: tbl}}}}, "dynamodb:GetItem on table"},
		{&s3.UploadPartInput{Bucket: bkt}, "s3:PutObject on bucket/*"},
		{&s3.CompleteMultipartUploadInput{Bucket: bkt}, "s3:PutObject on bucket/*"},
		{&s3.ListPartsInput{Bucket: bkt}, "s3:ListMultipartUploadParts on bucket/*"},
		{&s3.HeadObjectInput{Bucket: bkt}, "s3:GetObject on bucket/*"},
		{&s3.GetObjectInput{Bucket: bkt, VersionId: aws.String("v")}, "s3:GetObjectVersion on bucket/*"},
		{&s3.DeleteObjectInput{Bucket: bkt}, "s3:DeleteObject on bucket/*"},
		{&s3.DeleteObjectInput{Bucket: bkt, VersionId: aws.String("v")}, "s3:DeleteObjectVersion on bucket/*"},
		{&s3.ListObjectVersionsInput{Bucket: bkt}, "s3:ListBucketVersions on bucket"},
		{&sqs.SendMessageBatchInput{QueueUrl: q}, "sqs:SendMessage on deliveries queue"},
		{&sqs.DeleteMessageBatchInput{QueueUrl: q}, "sqs:DeleteMessage on deliveries queue"},
		{&sqs.ChangeMessageVisibilityInput{QueueUrl: q}, "sqs:ChangeMessageVisibility on deliveries queue"},
		{&eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{EventBusName: aws.String("bus")}}}, "events:PutEvents on event bus"},
	} {
		c, err := required(tc.in, names)
		if err != nil {
			t.Fatalf("%T: %v", tc.in, err)
		}
		var got []string
		for _, a := range c.needs {
			got = append(got, a.String())
		}
		if strings.Join(got, ", ") != tc.want {
			t.Errorf("%T needs %v, want %s", tc.in, got, tc.want)
		}
		if want := strings.Replace(strings.SplitN(tc.want, ":", 2)[0], "events", "eventbridge", 1); c.service != want { // AWS answers each service's refusal its own way
			t.Errorf("%T: service %q, want %q", tc.in, c.service, want)
		}
	}
	// another table, bucket, queue or bus, and unmapped operations, are refused
	for _, in := range []any{&dynamodb.GetItemInput{TableName: aws.String("other")}, &s3.HeadObjectInput{Bucket: aws.String("other")},
		&sqs.SendMessageInput{QueueUrl: aws.String("http://sqs/000000000000/other")},
		&eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{EventBusName: aws.String("bus")}, {}}},
		&dynamodb.DeleteTableInput{TableName: tbl}, &s3.PutBucketPolicyInput{Bucket: bkt}, &sqs.PurgeQueueInput{QueueUrl: q}} {
		if _, err := required(in, names); err == nil {
			t.Errorf("%T was mapped", in)
		}
	}
}

// TestKeysAreTheSignersOnly: the signing keys' table is readable by the
// functions that sign or verify, and by no other (the authorizer, whose
// table access is wider than it needs for anything else, included).
func TestKeysAreTheSignersOnly(t *testing.T) {
	read := Access{Action: query, Resource: Resource{Kind: KindKeys}}
	for fn, p := range Policies {
		signer := fn == lambdas.Files || fn == lambdas.Attachments || fn == lambdas.SessionsOpen || fn == lambdas.Companion || fn == lambdas.Events ||
			fn == lambdas.Batches // Kommo's relayed parts: their URLs
		if p.Allows(read) != signer {
			t.Errorf("%s may read the signing keys: %v", fn, p.Allows(read))
		}
	}
}

// TestOccasionalAreGranted: an occasional grant is one the policy holds.
func TestOccasionalAreGranted(t *testing.T) {
	for fn, as := range Occasional {
		for a := range as {
			if !Policies[fn].Allows(a) {
				t.Errorf("%s: occasional %s is not granted", fn, a)
			}
		}
	}
}

// TestEveryFunctionHasAPolicy: the stack cannot deploy a function without one.
func TestEveryFunctionHasAPolicy(t *testing.T) {
	for _, fn := range lambdas.All() {
		if len(Policies[fn]) == 0 {
			t.Errorf("no policy for %s", fn)
		}
	}
	if len(Policies) != len(lambdas.All()) {
		t.Errorf("policies for unknown functions: %d policies", len(Policies))
	}
}

// TestUnused: a grant no recorded call used is reported; recorded ones are not.
func TestUnused(t *testing.T) {
	u := &Usage{}
	p := map[string]Policy{"f": {Table(getItem, putItem), Bucket(listBucket)}}
	u.add("f", Access{Action: getItem, Resource: Resource{Kind: KindTable}})
	u.add("f", Access{Action: listBucket, Resource: Resource{Kind: KindBucket}})
	got := u.Unused(p, nil)["f"]
	if len(got) != 1 || got[0].String() != "dynamodb:PutItem on table" {
		t.Fatalf("unused: %v", got)
	}
	if got := u.Unused(p, map[string]map[Access]string{"f": {{Action: putItem, Resource: Resource{Kind: KindTable}}: "why"}}); len(got["f"]) != 0 {
		t.Fatalf("an occasional grant is reported: %v", got)
	}
}

// TestPoliciesMatchTheCode reads what every test process of `make test`
// recorded: a grant that no call of the function's code used — in the
// whole suite — is a permission the function does not need (or a path no
// test covers). Grants the code needs and lacks fail the test that made
// the call. make test runs this after the suite (ANEXO_IAM_COVERAGE=1).
func TestPoliciesMatchTheCode(t *testing.T) {
	if os.Getenv("ANEXO_IAM_COVERAGE") != "1" {
		t.Skip("runs after the whole suite (make test sets ANEXO_IAM_COVERAGE=1 and " + UsageEnv + ")")
	}
	dir := os.Getenv(UsageEnv)
	u, n, err := ReadUsage(dir)
	if err != nil || n == 0 {
		t.Fatalf("no usage recorded in %q (%d files): %v", dir, n, err)
	}
	for fn, unused := range u.Unused(Policies, Occasional) {
		for _, a := range unused {
			t.Errorf("%s's policy grants %s, which no call of its code used in the suite: remove it or test the path that needs it", fn, a)
		}
	}
	t.Logf("%d usage files from the suite's processes", n)
}
