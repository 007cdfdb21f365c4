package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudtrail"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

// newAccessLogs is the bucket S3 writes the files bucket's server access
// logs to (every request on an object: who, what, when, the answer),
// kept as long as the other logs (LogRetentionDays) and retained with
// the stack's data.
func newAccessLogs(st awscdk.Stack, props Props) awss3.Bucket {
	var rules *[]*awss3.LifecycleRule
	if props.LogRetentionDays != NeverExpire {
		rules = &[]*awss3.LifecycleRule{{Id: jsii.String("expire-access-logs"), Expiration: awscdk.Duration_Days(jsii.Number(float64(props.LogRetentionDays)))}}
	}
	return awss3.NewBucket(st, jsii.String("AccessLogs"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules:    rules,
	})
}

// addDataEvents records every object-level call on the files bucket
// (GetObject, PutObject, DeleteObject… by whom, from where) in a
// CloudTrail trail of its own, with log file validation: an audit trail
// the access logs' best effort does not give. $0.10 per 100,000 events,
// so only when asked (-c dataEvents=true).
func (s *Stack) addDataEvents(props Props) {
	if !props.DataEvents {
		return
	}
	trail := awscloudtrail.NewTrail(s.Stack, jsii.String("DataEvents"), &awscloudtrail.TrailProps{
		EnableFileValidation:       jsii.Bool(true),
		IncludeGlobalServiceEvents: jsii.Bool(false),
		IsMultiRegionTrail:         jsii.Bool(false),
		ManagementEvents:           awscloudtrail.ReadWriteType_NONE,
	})
	trail.AddS3EventSelector(&[]*awscloudtrail.S3EventSelector{{Bucket: s.Bucket}},
		&awscloudtrail.AddEventSelectorOptions{ReadWriteType: awscloudtrail.ReadWriteType_ALL, IncludeManagementEvents: jsii.Bool(false)})
}
