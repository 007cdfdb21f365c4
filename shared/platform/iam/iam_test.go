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

// TestConditions: the authorizer reaches only secrets' items, and updates
// only their last use, as the stack's conditions on dynamodb:LeadingKeys,
// dynamodb:Attributes and dynamodb:ReturnValues let it in AWS.
func TestConditions(t *testing.T) {
	names := Names{Table: "t", Keys: "k", Bucket: "b"}
	key := func(pk, sk string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}, "sk": &ddbtypes.AttributeValueMemberS{Value: sk}}
	}
	touch := func(pk string) *dynamodb.UpdateItemInput {
		return &dynamodb.UpdateItemInput{TableName: aws.String("t"), Key: key(pk, "TOKEN"), UpdateExpression: aws.String("SET last_used_at = :at"),
			ConditionExpression: aws.String("attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at < :nb)")}
	}
	scopes := touch("T#abc")
	scopes.UpdateExpression, scopes.ExpressionAttributeNames = aws.String("SET #s = :s, last_used_at = :at"), map[string]string{"#s": "scopes"}
	readBack := touch("T#abc")
	readBack.ReturnValues = ddbtypes.ReturnValueAllNew
	nested := touch("T#abc")
	nested.UpdateExpression = aws.String("SET last_used_at.at = :at")
	for _, tc := range []struct {
		in     any
		denied string // "" when allowed
	}{
		{&dynamodb.GetItemInput{TableName: aws.String("t"), Key: key("T#abc", "TOKEN")}, ""},
		{touch("T#abc"), ""},
		{nested, ""},
		{&dynamodb.GetItemInput{TableName: aws.String("t"), Key: key("A#acct", "ACCOUNT")}, `dynamodb:LeadingKeys "A#acct"`},
		{touch("A#acct"), `dynamodb:LeadingKeys "A#acct"`},
		{scopes, `dynamodb:Attributes "scopes"`},
		{readBack, "dynamodb:ReturnValues ALL_NEW"},
		{&dynamodb.PutItemInput{TableName: aws.String("t"), Item: key("T#abc", "TOKEN")}, "not authorized to perform: dynamodb:PutItem"},
		// a Query's key condition is not read here: a statement with a
		// condition refuses it rather than grant it unchecked
		{&dynamodb.QueryInput{TableName: aws.String("t")}, "not authorized to perform: dynamodb:Query"},
	} {
		e, err := NewEnforcer(lambdas.Authorizer, names, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.Policy = append(e.Policy, Table(query).Where(Condition{LeadingKeys: []string{"T#*"}}))
		c, err := required(tc.in, names)
		if err != nil {
			t.Fatal(err)
		}
		var denied string
		for i, a := range c.needs {
			if ok, why := e.Policy.permits(a, c.items[i]); !ok {
				denied = "not authorized to perform: " + a.Action + " " + why
			}
		}
		if tc.denied == "" && denied != "" || !strings.Contains(denied, tc.denied) {
			t.Errorf("%T %+v: denied %q, want %q", tc.in, c.items, denied, tc.denied)
		}
	}
	if got := exprAttributes("SET #a.b[2] = if_not_exists(#a, :z), c = list_append(c, :l) REMOVE d ADD e :one", map[string]string{"#a": "a"}); strings.Join(got, ",") != "a,a,c,c,d,e" {
		t.Errorf("expression attributes %v", got)
	}
	for p, s := range map[string]bool{"T#*": true, "A#*": false, "T#*x": true, "T#*y": false, "T#abx": true, "T#ab": false, "*b*": true, "*c*": false} {
		if like(p, "T#abx") != s {
			t.Errorf("like(%q, T#abx) = %v", p, !s)
		}
	}
}

// TestKeyUse: with a key of the deployment's own, each operation needs
// the key's actions its service documents, and a policy's derived key
// grant (WithKey) covers every operation its actions allow; without a
// key nothing changes.
func TestKeyUse(t *testing.T) {
	tbl, bkt, q := aws.String("t"), aws.String("b"), aws.String("http://sqs/000000000000/deliveries")
	names := Names{Table: "t", Keys: "k", Bucket: "b", Queue: *q, Bus: "bus", Key: "arn:aws:kms:us-east-1:000000000000:key/k"}
	for _, tc := range []struct {
		in   any
		want string
	}{
		{&dynamodb.GetItemInput{TableName: tbl}, "kms:Decrypt kms:DescribeKey"},
		{&dynamodb.QueryInput{TableName: aws.String("k")}, "kms:Decrypt kms:DescribeKey"},
		{&dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{{ConditionCheck: &ddbtypes.ConditionCheck{TableName: tbl}}, {Put: &ddbtypes.Put{TableName: tbl}}}},
			"kms:Decrypt kms:DescribeKey kms:Encrypt kms:GenerateDataKey"},
		{&s3.PutObjectInput{Bucket: bkt}, "kms:GenerateDataKey"},
		{&s3.UploadPartInput{Bucket: bkt}, "kms:GenerateDataKey kms:Decrypt"},
		{&s3.CompleteMultipartUploadInput{Bucket: bkt}, "kms:GenerateDataKey kms:Decrypt"},
		{&s3.GetObjectInput{Bucket: bkt, VersionId: aws.String("v")}, "kms:Decrypt"},
		{&s3.HeadObjectInput{Bucket: bkt}, ""},
		{&s3.DeleteObjectInput{Bucket: bkt, VersionId: aws.String("v")}, ""},
		{&sqs.SendMessageBatchInput{QueueUrl: q}, "kms:GenerateDataKey kms:Decrypt"},
		{&sqs.ReceiveMessageInput{QueueUrl: q}, "kms:Decrypt"},
		{&sqs.DeleteMessageInput{QueueUrl: q}, ""},
		{&eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{EventBusName: aws.String("bus")}}}, ""},
	} {
		c, err := required(tc.in, names)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range c.needs {
			if a.Resource.Kind == KindKMSKey {
				got = append(got, a.Action)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%T needs %v of the key, want %q", tc.in, got, tc.want)
		}
		plain, _ := required(tc.in, Names{Table: "t", Keys: "k", Bucket: "b", Queue: *q, Bus: "bus"})
		if len(plain.needs) != len(c.needs)-len(got) {
			t.Errorf("%T without a key needs %v", tc.in, plain.needs)
		}
		// a policy that allows the operation allows its key use
		var p Policy
		for _, a := range plain.needs {
			p = append(p, Statement{Resource: a.Resource, Actions: []string{a.Action}})
		}
		for i, a := range c.needs {
			if ok, why := p.WithKey().permits(a, c.items[i]); !ok {
				t.Errorf("%T: the derived key grant lacks %s (%s)", tc.in, a, why)
			}
		}
	}
	if got := (Policy{Table(getItem)}).WithKey(); len(got) != 2 || got[1].Resource.Kind != KindKMSKey || strings.Join(got[1].Actions, " ") != "kms:Decrypt kms:DescribeKey" {
		t.Errorf("WithKey of a reader: %+v", got)
	}
	if got := (Policy{Bus(putEvents)}).WithKey(); len(got) != 1 {
		t.Errorf("WithKey of a publisher: %+v", got)
	}
}
