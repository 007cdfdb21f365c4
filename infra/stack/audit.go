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
	return newLogBucket(st, "AccessLogs", props, awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED, nil)
}

// newLogBucket is a private bucket of logs, expired with the other logs.
// S3's server access logs reach a bucket without ACLs (its policy lets
// the logging service in); CloudFront's standard logs still need ACLs
// (BUCKET_OWNER_PREFERRED), and their own bucket's requests are logged
// to logsTo.
func newLogBucket(st awscdk.Stack, id string, props Props, owner awss3.ObjectOwnership, logsTo awss3.Bucket) awss3.Bucket {
	var rules *[]*awss3.LifecycleRule
	if props.LogRetentionDays != NeverExpire {
		rules = &[]*awss3.LifecycleRule{{Id: jsii.String("expire-logs"), Expiration: awscdk.Duration_Days(jsii.Number(float64(props.LogRetentionDays)))}}
	}
	bp := &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   owner,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules:    rules,
	}
	if logsTo != nil {
		bp.ServerAccessLogsBucket, bp.ServerAccessLogsPrefix = logsTo, jsii.String(id+"/")
	}
	return awss3.NewBucket(st, jsii.String(id), bp)
}

// addDataEvents records every object-level call on the files bucket
// (GetObject, PutObject, DeleteObject… by whom, from where) in a
// CloudTrail trail of its own, with log file validation: an audit trail
// the access logs' best effort does not give. $0.10 per 100,000 events,
// so only when asked (-c dataEvents=true). The trail's bucket logs its
// own requests to the access logs.
func (s *Stack) addDataEvents(props Props) {
	if !props.DataEvents {
		return
	}
	trail := awscloudtrail.NewTrail(s.Stack, jsii.String("DataEvents"), &awscloudtrail.TrailProps{
		Bucket:                     newLogBucket(s.Stack, "DataEventsLogs", props, awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED, s.accessLogs),
		EnableFileValidation:       jsii.Bool(true),
		IncludeGlobalServiceEvents: jsii.Bool(false),
		IsMultiRegionTrail:         jsii.Bool(false),
		ManagementEvents:           awscloudtrail.ReadWriteType_NONE,
	})
	trail.AddS3EventSelector(&[]*awscloudtrail.S3EventSelector{{Bucket: s.Bucket}},
		&awscloudtrail.AddEventSelectorOptions{ReadWriteType: awscloudtrail.ReadWriteType_ALL, IncludeManagementEvents: jsii.Bool(false)})
}
