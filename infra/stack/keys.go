package stack

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// CreateKey (kmsKey=create) makes the stack create its data key.
const CreateKey = "create"

// newDataKey is the KMS key the stack's data is encrypted with
// (Props.KMSKey): none (AWS's own keys), one it creates (rotated every
// year, retained with the data), or an existing one by ARN. Its users are
// the functions (their policies' key grants, iam.Policy.WithKey); the
// created key's policy also lets CloudWatch Logs encrypt the stack's log
// groups, CloudWatch publish alarms to the encrypted topic, and
// EventBridge send the sweeper's failed invocations to AsyncFailures.
// An existing key's policy must say the same (docs/operations.md, Keys).
func (s *Stack) newDataKey(props Props) {
	switch k := props.KMSKey; {
	case k == "":
		return
	case k == CreateKey:
	case strings.HasPrefix(k, "arn:aws") && strings.Contains(k, ":kms:"):
		s.key = awskms.Key_FromKeyArn(s.Stack, jsii.String("DataKey"), jsii.String(k))
		return
	default:
		panic("context kmsKey: " + k + " is neither create nor a KMS key's ARN")
	}
	key := awskms.NewKey(s.Stack, jsii.String("DataKey"), &awskms.KeyProps{
		Description:       jsii.String("Anexo: the bucket's objects, the tables, the deliveries queues, the alarm topic and the logs"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		Alias:             jsii.String("alias/" + *s.StackName() + "-data"),
	})
	region, account := s.Region(), s.Account()
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logs."+*region+".amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:DescribeKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnLike": map[string]any{"kms:EncryptionContext:aws:logs:arn": "arn:" + *s.Partition() + ":logs:" + *region + ":" + *account + ":log-group:*"}},
	}), nil)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil),
			awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": *account}},
	}), nil)
	s.key = key
}

// bucketEncryption is the files bucket's: SSE-KMS under the data key
// with an S3 bucket key (S3 asks KMS for a key per bucket and period, not
// per object: KMS requests fall by up to 99 %), or SSE-S3.
func (s *Stack) bucketEncryption(bp *awss3.BucketProps) {
	bp.Encryption = awss3.BucketEncryption_S3_MANAGED
	if s.key != nil {
		bp.Encryption, bp.EncryptionKey, bp.BucketKeyEnabled = awss3.BucketEncryption_KMS, s.key, jsii.Bool(true)
	}
}

// tableEncryption is a table's: the data key, or DynamoDB's own.
func (s *Stack) tableEncryption(tp *awsdynamodb.TableProps) {
	if s.key != nil {
		tp.Encryption, tp.EncryptionKey = awsdynamodb.TableEncryption_CUSTOMER_MANAGED, s.key
	}
}

// queueEncryption is a deliveries queue's (their messages carry the
// events): the data key, or SQS's own.
func (s *Stack) queueEncryption(qp *awssqs.QueueProps) *awssqs.QueueProps {
	qp.Encryption = awssqs.QueueEncryption_SQS_MANAGED
	if s.key != nil {
		qp.Encryption, qp.EncryptionMasterKey = awssqs.QueueEncryption_KMS, s.key
		// SQS reuses a data key for this long (fewer KMS requests)
		qp.DataKeyReuse = awscdk.Duration_Hours(jsii.Number(1))
	}
	return qp
}

// keyARN is the data key's ARN ("" without one).
func (s *Stack) keyARN() string {
	if s.key == nil {
		return ""
	}
	return *s.key.KeyArn()
}
