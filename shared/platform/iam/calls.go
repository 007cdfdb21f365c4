package iam

import (
	"fmt"
	"path"
	"reflect"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// call is what one SDK operation needs from IAM.
type call struct {
	service     string // "dynamodb" or "s3"
	op          string
	needs       []Access
	items       []item // per need: the DynamoDB item it touches, for conditions
	readsObject bool   // GetObject/HeadObject: 403 on a missing key without s3:ListBucket
}

// Names are the deployment's resources a policy's kinds mean: the tables,
// the bucket, the deliveries queue and its dead-letter queue (their URLs)
// and the bus.
type Names struct {
	Table, Keys, Bucket, Queue, DeadLetters, Bus string
	Previews                                     string // the previews' bucket
	// Key is the KMS key the deployment encrypts its data with (empty:
	// AWS's own keys): calls then also need the key's actions.
	Key string
}

// arns renders the names as ARNs (for refusal messages).
func (n Names) arns() ARNs {
	return ARNs{Table: "arn:aws:dynamodb:local:000000000000:table/" + n.Table, Keys: "arn:aws:dynamodb:local:000000000000:table/" + n.Keys,
		Bucket: "arn:aws:s3:::" + n.Bucket, Queue: "arn:aws:sqs:local:000000000000:" + path.Base(n.Queue),
		DeadLetters: "arn:aws:sqs:local:000000000000:" + path.Base(n.DeadLetters),
		Bus:         "arn:aws:events:local:000000000000:event-bus/" + n.Bus, Key: n.Key, Previews: "arn:aws:s3:::" + n.Previews}
}

// required maps an operation's input to the IAM actions AWS checks for it
// (the Service Authorization Reference): a transaction needs the item
// action of every item, a query on an index needs the index's ARN, a read
// or delete of a version needs the *Version action. An operation without a
// mapping is refused, so a new call cannot slip past the policy.
func required(params any, n Names) (call, error) {
	table, keys, bucket := n.Table, n.Keys, n.Bucket
	t := reflect.TypeOf(params)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// the client's package names the service: .../service/dynamodb, .../service/s3
	op := t.Name()
	c := call{service: path.Base(t.PkgPath()), op: op}
	var err error
	grant := func(kind Kind, index, got, want, action string) {
		if got != want {
			err = fmt.Errorf("%s on %q: the policy covers only %q (%s)", action, got, want, op)
			return
		}
		c.needs = append(c.needs, Access{Action: action, Resource: Resource{Kind: kind, Index: index}})
		c.items = append(c.items, item{})
	}
	tbl := func(name *string, action string) {
		if aws.ToString(name) == keys && keys != "" {
			grant(KindKeys, "", keys, keys, action)
			return
		}
		grant(KindTable, "", aws.ToString(name), table, action)
	}
	// on: the item the last need touches (when it was granted)
	on := func(it item) {
		if err == nil {
			c.items[len(c.items)-1] = it
		}
	}
	idx := func(name, index *string, action string) {
		if index == nil {
			tbl(name, action)
			return
		}
		grant(KindIndex, *index, aws.ToString(name), table, action)
	}
	obj := func(b *string, action string) {
		if aws.ToString(b) == n.Previews && n.Previews != "" {
			grant(KindPreviews, "", n.Previews, n.Previews, action)
			return
		}
		grant(KindObjects, "", aws.ToString(b), bucket, action)
	}
	bkt := func(b *string, action string) { grant(KindBucket, "", aws.ToString(b), bucket, action) }
	queue := func(u *string, action string) {
		if aws.ToString(u) == n.DeadLetters && n.DeadLetters != "" {
			grant(KindDeadLetters, "", n.DeadLetters, n.DeadLetters, action)
			return
		}
		grant(KindQueue, "", aws.ToString(u), n.Queue, action)
	}
	versioned := func(v *string, plain, version string) string {
		if aws.ToString(v) != "" {
			return version
		}
		return plain
	}
	switch in := params.(type) {
	// DynamoDB
	case *dynamodb.GetItemInput:
		tbl(in.TableName, getItem)
		on(itemOf(in.Key, nil, in.ExpressionAttributeNames, "", in.ProjectionExpression))
	case *dynamodb.PutItemInput:
		tbl(in.TableName, putItem)
		on(itemOf(nil, in.Item, in.ExpressionAttributeNames, in.ReturnValues, in.ConditionExpression))
	case *dynamodb.UpdateItemInput:
		tbl(in.TableName, updateItem)
		on(itemOf(in.Key, nil, in.ExpressionAttributeNames, in.ReturnValues, in.UpdateExpression, in.ConditionExpression))
	case *dynamodb.DeleteItemInput:
		tbl(in.TableName, deleteItem)
		on(itemOf(in.Key, nil, in.ExpressionAttributeNames, in.ReturnValues, in.ConditionExpression))
	case *dynamodb.QueryInput:
		idx(in.TableName, in.IndexName, query)
	case *dynamodb.ScanInput:
		idx(in.TableName, in.IndexName, "dynamodb:Scan")
	case *dynamodb.BatchGetItemInput:
		for _, name := range sortedKeys(in.RequestItems) {
			tbl(aws.String(name), batchGetItem)
		}
	case *dynamodb.BatchWriteItemInput:
		for _, name := range sortedKeys(in.RequestItems) {
			tbl(aws.String(name), "dynamodb:BatchWriteItem")
		}
	case *dynamodb.TransactGetItemsInput:
		for _, it := range in.TransactItems {
			if it.Get != nil {
				tbl(it.Get.TableName, getItem)
				on(itemOf(it.Get.Key, nil, it.Get.ExpressionAttributeNames, "", it.Get.ProjectionExpression))
			}
		}
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			transactItem(it, tbl)
			on(transactedItem(it))
		}
	// S3: the operations behind presigned URLs are checked when signed.
	case *s3.PutObjectInput: // also a presigned POST policy
		obj(in.Bucket, putObject)
	case *s3.CreateMultipartUploadInput:
		obj(in.Bucket, putObject)
	case *s3.UploadPartInput:
		obj(in.Bucket, putObject)
	case *s3.CompleteMultipartUploadInput:
		obj(in.Bucket, putObject)
	case *s3.AbortMultipartUploadInput:
		obj(in.Bucket, abortMultipart)
	case *s3.ListPartsInput:
		obj(in.Bucket, listParts)
	case *s3.GetObjectInput:
		obj(in.Bucket, versioned(in.VersionId, getObject, getObjectVersion))
		c.readsObject = true
	case *s3.HeadObjectInput:
		obj(in.Bucket, versioned(in.VersionId, getObject, getObjectVersion))
		c.readsObject = true
	case *s3.GetObjectTaggingInput:
		obj(in.Bucket, versioned(in.VersionId, getObjectTagging, getObjectVersionTagging))
	case *s3.DeleteObjectInput:
		obj(in.Bucket, versioned(in.VersionId, deleteObject, deleteObjectVersion))
	case *s3.ListObjectVersionsInput:
		bkt(in.Bucket, listBucketVersions)
	case *s3.ListObjectsV2Input:
		bkt(in.Bucket, listBucket)
	case *s3.ListMultipartUploadsInput:
		bkt(in.Bucket, "s3:ListBucketMultipartUploads")
	// SQS (the batch operations need the single message's action)
	case *sqs.SendMessageInput:
		queue(in.QueueUrl, sendMessage)
	case *sqs.SendMessageBatchInput:
		queue(in.QueueUrl, sendMessage)
	case *sqs.ReceiveMessageInput:
		queue(in.QueueUrl, receiveMessage)
	case *sqs.DeleteMessageInput:
		queue(in.QueueUrl, deleteMessage)
	case *sqs.DeleteMessageBatchInput:
		queue(in.QueueUrl, deleteMessage)
	case *sqs.ChangeMessageVisibilityInput:
		queue(in.QueueUrl, changeVisibility)
	case *sqs.GetQueueAttributesInput:
		queue(in.QueueUrl, queueAttributes)
	// EventBridge: every entry names its bus
	case *eventbridge.PutEventsInput:
		for _, e := range in.Entries {
			bus := aws.ToString(e.EventBusName)
			if bus == "" {
				bus = "default"
			}
			grant(KindBus, "", bus, n.Bus, putEvents)
		}
	// GuardDuty: on-demand scans are account-level (the bucket must be a
	// plan's, which GuardDuty checks, not IAM)
	case *guardduty.SendObjectMalwareScanInput:
		grant(KindMalwareScans, "", "*", "*", sendObjectMalwareScan)
	default:
		return c, fmt.Errorf("no IAM mapping for %s: map it in iam.required before any function calls it", op)
	}
	if n.Key != "" && err == nil {
		for _, k := range opKeyUse(c) {
			c.needs = append(c.needs, Access{Action: k, Resource: Resource{Kind: KindKMSKey}})
			c.items = append(c.items, item{})
		}
	}
	return c, err
}

// transactItem adds the item action of one transaction item.
func transactItem(it ddbtypes.TransactWriteItem, tbl func(*string, string)) {
	switch {
	case it.ConditionCheck != nil:
		tbl(it.ConditionCheck.TableName, conditionChk)
	case it.Put != nil:
		tbl(it.Put.TableName, putItem)
	case it.Update != nil:
		tbl(it.Update.TableName, updateItem)
	case it.Delete != nil:
		tbl(it.Delete.TableName, deleteItem)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// transactedItem is the item one transaction item touches.
func transactedItem(it ddbtypes.TransactWriteItem) item {
	switch {
	case it.ConditionCheck != nil:
		c := it.ConditionCheck
		return itemOf(c.Key, nil, c.ExpressionAttributeNames, "", c.ConditionExpression)
	case it.Put != nil:
		p := it.Put
		return itemOf(nil, p.Item, p.ExpressionAttributeNames, "", p.ConditionExpression)
	case it.Update != nil:
		u := it.Update
		return itemOf(u.Key, nil, u.ExpressionAttributeNames, "", u.UpdateExpression, u.ConditionExpression)
	case it.Delete != nil:
		d := it.Delete
		return itemOf(d.Key, nil, d.ExpressionAttributeNames, "", d.ConditionExpression)
	}
	return item{}
}
