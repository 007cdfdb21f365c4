package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Nag runs cdk-nag's AwsSolutions and Serverless rule packs on every
// stack of the app: a finding the stack does not suppress (each with its
// reason, below) fails the synthesis. make test synthesizes with them;
// cdk synth -c nag=true does too.
func Nag(app awscdk.App) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{}), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewServerlessChecks(&cdknag.NagPackProps{}), nil)
}

// suppressNag records, on the constructs themselves, why each finding
// cdk-nag's packs raise on this stack is accepted.
func (s *Stack) suppressNag(props Props) {
	for _, fn := range s.Functions {
		suppress(fn, true,
			finding{"AwsSolutions-IAM4", "AWSLambdaBasicExecutionRole grants only logs:CreateLogGroup, logs:CreateLogStream and logs:PutLogEvents, what every function needs to log",
				[]string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}},
			finding{"AwsSolutions-IAM5", "X-Ray's xray:PutTraceSegments and xray:PutTelemetryRecords, and GuardDuty's on-demand SendObjectMalwareScan (the sweeper's rescans; GuardDuty scans only buckets a malware protection plan covers), take no resource: the IAM reference lists them on * only",
				[]string{"Resource::*"}},
			finding{"AwsSolutions-IAM5", "Object-level actions name the bucket's objects: every account's keys live in the one bucket, and the application confines each request to its account (shared/platform/iam holds each function's actions, enforced in local mode and tests)",
				[]string{"Resource::<" + s.logicalID(s.Bucket) + ".Arn>/*"}},
			finding{"AwsSolutions-IAM5", "Previews are objects of their own bucket, keyed by account, file and version like the files; the application confines each request to its account",
				[]string{"Resource::<" + s.logicalID(s.Previews) + ".Arn>/*"}},
			finding{"Serverless-LambdaDLQ", "A dead-letter queue serves asynchronous invocations only: API functions answer their caller, background ones send failures to AsyncFailures (an on-failure destination, which this rule does not read), stream and queue consumers fail through their event source mappings", nil},
		)
	}
	dlqs := []constructs.IConstruct{s.AsyncFailures, s.DeliveriesDLQ}
	if q := s.Node().TryFindChild(jsii.String("AlarmEmailDLQ")); q != nil {
		dlqs = append(dlqs, q)
	}
	for _, q := range dlqs {
		suppress(q, true,
			finding{"AwsSolutions-SQS3", "This queue is a dead-letter queue (of failed invocations, given-up deliveries or undelivered alarm e-mails)", nil},
			finding{"Serverless-SQSRedrivePolicy", "This queue is a dead-letter queue: it has nowhere further to send messages", nil})
	}
	suppress(s.Node().FindChild(jsii.String("DeliveriesQueue")), true,
		finding{"Serverless-LambdaEventSourceMappingDestination", "An SQS event source takes no on-failure destination: the deliveries queue's redrive policy moves a message to DeliveriesDLQ after webhooks.MaxReceives receives", nil})
	if b := s.Node().TryFindChild(jsii.String("BackupRole")); b != nil {
		suppress(b, true, finding{"AwsSolutions-IAM4", "AWS Backup's own service-role policies, as its documentation says to grant (they follow the service's needs for DynamoDB and S3 backups and restores)",
			[]string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
				"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
				"Policy::arn:<AWS::Partition>:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
				"Policy::arn:<AWS::Partition>:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore"}})
	}
	if s.deployRole != nil {
		suppress(s.deployRole, true, finding{"AwsSolutions-IAM4", "CodeDeploy's own policy for Lambda deployments, limited to what it does: invoke the hooks (none here), read the alarms, update the aliases",
			[]string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited"}})
	}
	for _, c := range *s.Node().Children() {
		if id := *c.Node().Id(); len(id) > 26 && id[:26] == "BucketNotificationsHandler" {
			suppress(c, true, finding{"AwsSolutions-IAM4", "CDK's own handler that sets the bucket's notifications at deploy time; it logs with AWSLambdaBasicExecutionRole",
				[]string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}})
		}
	}
	if r := s.Node().TryFindChild(jsii.String("MalwareProtectionRole")); r != nil {
		rules := []string{"Resource::arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*"}
		if env := props.Env; env != nil && env.Account != nil && env.Region != nil { // a pinned stage names them
			rules = append(rules, "Resource::arn:aws:events:"+*env.Region+":"+*env.Account+":rule/DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*")
		}
		suppress(r, true,
			finding{"AwsSolutions-IAM5", "GuardDuty scans and tags every new object of the bucket, whatever its account's prefix: the permissions AWS documents for a malware protection plan's role",
				[]string{"Resource::<" + s.logicalID(s.Bucket) + ".Arn>/*"}},
			finding{"AwsSolutions-IAM5", "Previews are objects of their own bucket, keyed by account, file and version like the files; the application confines each request to its account",
				[]string{"Resource::<" + s.logicalID(s.Previews) + ".Arn>/*"}},
			finding{"AwsSolutions-IAM5", "The EventBridge rule GuardDuty manages for the plan is named by GuardDuty (DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3…), so AWS documents the grant with this prefix; changes are limited to rules GuardDuty manages (events:ManagedBy)",
				rules})
	}
	if props.Edge {
		edge := s.Node().FindChild(jsii.String("Edge"))
		suppress(edge, true,
			finding{"AwsSolutions-CFR1", "A CRM's customers upload from anywhere: no country is refused at the edge (WAF's IP reputation and rate rules apply instead)", nil})
		if props.DomainName == "" {
			suppress(edge, true, finding{"AwsSolutions-CFR4", "Without a domain of its own the distribution serves *.cloudfront.net with CloudFront's default certificate, whose minimum CloudFront fixes (TLSv1); with domainName and edgeCertificateArn the minimum is TLS 1.2", nil})
		}
		suppress(s.originSecret, true,
			finding{"AwsSolutions-SMG4", "The origin secret is rotated by a deploy (docs/operations.md, The edge): CloudFront's origin header and the functions must change together, which a rotation Lambda cannot do", nil})
	}
}

// finding is a cdk-nag rule accepted with its reason, for some of its
// granular findings (appliesTo) or all of them.
type finding struct {
	rule, reason string
	appliesTo    []string
}

func suppress(c constructs.IConstruct, children bool, fs ...finding) {
	var out []*cdknag.NagPackSuppression
	for _, f := range fs {
		sp := &cdknag.NagPackSuppression{Id: jsii.String(f.rule), Reason: jsii.String(f.reason)}
		if f.appliesTo != nil {
			applies := make([]any, len(f.appliesTo))
			for i, a := range f.appliesTo {
				applies[i] = a
			}
			sp.AppliesTo = &applies
		}
		out = append(out, sp)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &out, jsii.Bool(children))
}

// logicalID is the CloudFormation id of a bucket's resource.
func (s *Stack) logicalID(b awss3.Bucket) string {
	return *s.GetLogicalId(b.Node().DefaultChild().(awscdk.CfnElement))
}

// publicRoute accepts a route API Gateway does not authorize (httpapi's
// Public routes).
func publicRoute(r constructs.IConstruct) {
	suppress(r, true, finding{"AwsSolutions-APIG4", "Public by design: the OpenAPI document, or an Uppy companion route whose path carries its credential (an upload ticket signed for one session and a short time, verified by the function: Uppy's S3 plugin sends no Authorization)", nil})
}
