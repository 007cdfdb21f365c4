package iam

import (
	"slices"
)

// KMS actions a deployment with a key of its own needs (Props.KMSKey in
// the stack): the bucket's objects (SSE-KMS), both tables and the
// queues are encrypted with it.
const (
	kmsDecrypt         = "kms:Decrypt"
	kmsDescribeKey     = "kms:DescribeKey"
	kmsEncrypt         = "kms:Encrypt"
	kmsGenerateDataKey = "kms:GenerateDataKey"
)

// grantKeyUse is what a granted action needs of the key: the union, over
// the operations the action covers, of what opKeyUse lists (s3:PutObject
// also signs multipart uploads and their completion).
var grantKeyUse = map[string][]string{
	getItem: {kmsDecrypt, kmsDescribeKey}, batchGetItem: {kmsDecrypt, kmsDescribeKey}, query: {kmsDecrypt, kmsDescribeKey},
	conditionChk: {kmsDecrypt, kmsDescribeKey},
	putItem:      {kmsDecrypt, kmsDescribeKey, kmsEncrypt, kmsGenerateDataKey}, updateItem: {kmsDecrypt, kmsDescribeKey, kmsEncrypt, kmsGenerateDataKey},
	deleteItem: {kmsDecrypt, kmsDescribeKey, kmsEncrypt, kmsGenerateDataKey},
	putObject:  {kmsGenerateDataKey, kmsDecrypt}, getObject: {kmsDecrypt}, getObjectVersion: {kmsDecrypt},
	sendMessage: {kmsGenerateDataKey, kmsDecrypt}, receiveMessage: {kmsDecrypt},
}

// opKeyUse is what one operation needs of the key, from the services'
// documentation: DynamoDB's reads decrypt and describe the table's key,
// its writes also encrypt under it (as CDK's table grants give, without
// their wildcards); S3 puts an object under a new data key, a multipart
// upload's parts and completion also decrypt (S3 reads the parts back),
// a read decrypts (a HEAD does not); SQS producers generate and decrypt
// a data key, consumers decrypt.
func opKeyUse(c call) []string {
	switch c.service {
	case "dynamodb":
		for _, a := range c.needs {
			if slices.Contains([]string{putItem, updateItem, deleteItem, "dynamodb:BatchWriteItem"}, a.Action) {
				return grantKeyUse[putItem]
			}
		}
		return grantKeyUse[getItem]
	case "s3":
		switch c.op {
		case "PutObjectInput":
			return []string{kmsGenerateDataKey}
		case "CreateMultipartUploadInput", "UploadPartInput", "CompleteMultipartUploadInput":
			return []string{kmsGenerateDataKey, kmsDecrypt}
		case "GetObjectInput":
			return []string{kmsDecrypt}
		}
	case "sqs":
		switch c.op {
		case "SendMessageInput", "SendMessageBatchInput":
			return []string{kmsGenerateDataKey, kmsDecrypt}
		case "ReceiveMessageInput":
			return []string{kmsDecrypt}
		}
	}
	return nil
}

// WithKey is the policy of a deployment whose data is encrypted with a
// key of its own: the policy and, on the key, what its actions need of
// it (grantKeyUse).
func (p Policy) WithKey() Policy {
	var use []string
	for _, s := range p {
		for _, a := range s.Actions {
			for _, k := range grantKeyUse[a] {
				if !slices.Contains(use, k) {
					use = append(use, k)
				}
			}
		}
	}
	if len(use) == 0 {
		return p
	}
	slices.Sort(use)
	return append(slices.Clone(p), Statement{Resource: Resource{Kind: KindKMSKey}, Actions: use})
}
