// Package stack is Anexo's CDK stack: the HTTP API with its Lambda
// authorizer, one Lambda per function, the DynamoDB table and the versioned
// bucket, least-privilege IAM, throttling and alarms. It is environment
// agnostic: `cdk synth` needs no AWS credentials.
package stack

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3notifications"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/anexo/anexo/shared/adapters/dynamo"
	"github.com/anexo/anexo/shared/adapters/eventbus"
	"github.com/anexo/anexo/shared/domain/dispatch"
	"github.com/anexo/anexo/shared/domain/relay"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/domain/webhooks"
	"github.com/anexo/anexo/shared/inbound/httpapi"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/iam"
)

// Props configure the stack; every field has a default (see Defaults).
type Props struct {
	awscdk.StackProps
	StageName        string   // HTTP API stage; "$default" serves at the root
	AllowedOrigins   []string // CORS origins for the API and for browser uploads to the bucket
	AssetDir         string   // where `make build` put <function>/bootstrap
	LogRetentionDays int      // CloudWatch Logs retention: a value CloudWatch allows, or NeverExpire
	LogLevel         string   // the functions' application log level: DEBUG, INFO (default), WARN or ERROR
	// Tags go on every resource, besides app=anexo and stage=<stage>.
	Tags map[string]string
	// PermissionsBoundary (a managed policy's name or ARN) bounds every role the stack creates.
	PermissionsBoundary string
	// DetailedMetrics turns on per-route API metrics (billed per route and metric).
	DetailedMetrics bool
	ThrottleRate    float64 // steady requests per second of a route without its own throttle
	ThrottleBurst   float64 // burst
	// RouteThrottles override DefaultRouteThrottles per function: each of
	// the function's routes gets that rate and burst.
	RouteThrottles map[string]Throttle
	// DeliveriesConcurrency caps the webhook deliveries' concurrent
	// invocations (the queue's event source: 2 to 1,000).
	DeliveriesConcurrency float64
	// ReservedConcurrency reserves concurrent executions per function
	// (RecommendedReservations for the authorizer and the upload path);
	// none by default, as a new account's quota may not allow it.
	ReservedConcurrency map[string]float64
	// An AWS Backup plan covers both tables and the bucket (daily, kept
	// BackupRetentionDays) unless NoBackup; BackupVaultLock locks its
	// vault (compliance mode: no one can delete a recovery point early);
	// BackupCopyTo (a vault ARN, another account's or region's) gets a
	// copy of each recovery point.
	NoBackup bool
	// DataEvents records every object-level call on the bucket in a
	// CloudTrail trail (billed per event).
	DataEvents          bool
	BackupRetentionDays float64
	BackupVaultLock     bool
	BackupCopyTo        string
	AuthorizerTTL       int     // seconds API Gateway caches an authorizer answer per token
	AlarmEmail          string  // optional: the alarm topic's email subscription
	AlarmTopicARN       string  // optional: an existing SNS topic the alarms notify instead of the stack's own
	ConcurrencyAlarm    float64 // the account's concurrent executions that alarm (800: 80 % of the default quota)
	DomainName          string  // optional custom domain of the API, with CertificateARN (ACM, the stack's region)
	CertificateARN      string
	Edge                bool   // CloudFront + WAF in front of the API
	EdgeWebACLArn       string // an existing CloudFront web ACL (required outside us-east-1)
	// EdgeCertificateARN is DomainName's certificate for CloudFront (in
	// us-east-1; CertificateARN serves when the stack is there).
	EdgeCertificateARN string
	// EdgeOriginDomain: CloudFront reaches the API at this regional domain
	// (CertificateARN's), and the execute-api endpoint is switched off.
	EdgeOriginDomain string
	EdgeRatePerIP    float64 // WAF: requests per 5 minutes per client IP
	EdgeRatePerToken float64 // WAF: requests per 5 minutes per Authorization value
	// KMSKey encrypts the bucket (SSE-KMS, bucket key), both tables, the
	// deliveries queues, the alarm topic and the log groups: CreateKey for
	// a key the stack creates, or an existing key's ARN; "" for AWS's own.
	KMSKey string
	// NoMalwareProtection leaves the bucket unscanned (no GuardDuty plan,
	// every version's scan off): -c malwareProtection=false.
	NoMalwareProtection bool
	// Console deploys the files console, built under AssetDir/console
	// (ConsoleDir), to a bucket of its own behind CloudFront (ConsoleUrl):
	// FromContext sets it unless -c console=false.
	Console bool
	// Deployment is how a deploy replaces the functions' code: DeployDirect,
	// DeployCanary or DeployLinear (CodeDeploy, rolled back on the new
	// version's errors); "" is canary for the prod stage, direct elsewhere.
	Deployment string
}

// ConsoleDir is where the app builds the console and the stack takes it.
func (p Props) ConsoleDir() string { return filepath.Join(p.Defaults().AssetDir, "console") }

// Defaults fills unset props.
func (p Props) Defaults() Props {
	if p.StageName == "" {
		p.StageName = "$default"
	}
	if len(p.AllowedOrigins) == 0 {
		p.AllowedOrigins = []string{"*"}
	}
	if p.AssetDir == "" {
		p.AssetDir = "bin"
	}
	if p.ConcurrencyAlarm == 0 {
		p.ConcurrencyAlarm = 800
	}
	if p.LogRetentionDays == 0 {
		p.LogRetentionDays = 30
	}
	if p.ThrottleRate == 0 {
		p.ThrottleRate = 1000
	}
	if p.ThrottleBurst == 0 {
		p.ThrottleBurst = 2000
	}
	if p.LogLevel == "" {
		p.LogLevel = "INFO"
	}
	if p.DeliveriesConcurrency == 0 {
		p.DeliveriesConcurrency = DefaultDeliveriesConcurrency
	}
	if p.BackupRetentionDays == 0 {
		p.BackupRetentionDays = 35
	}
	if p.AuthorizerTTL == 0 {
		p.AuthorizerTTL = 60
	}
	if p.EdgeRatePerIP == 0 {
		p.EdgeRatePerIP = defaultEdgeRatePerIP
	}
	if p.EdgeRatePerToken == 0 {
		p.EdgeRatePerToken = defaultEdgeRatePerToken
	}
	return p
}

// Spec is a function's sizing; its permissions are iam.Policies, the policy
// local mode and every test enforce on the function's AWS calls.
type Spec struct {
	MemoryMB   float64
	TimeoutSec float64
}

// Specs sizes each function. Go handlers are small; memory buys CPU for TLS
// and SigV4, so request paths get 256 MB (cold start and p99 matter more
// than the extra GB-seconds). Completion gets 512 MB and 29 s: it pages
// ListParts (up to 10 pages of XML for 10,000 parts), waits up to 2 s for a
// concurrent completion, and S3 CompleteMultipartUpload of a large object
// can take many seconds; 29 s is the HTTP API integration limit minus one.
// Uppy's companion routes complete too, and so does a session's status
// call (sessions-parts) when every part is in: 29 s. Batch uploads hold up to 4 MiB of
// files in memory and write them to S3 (the one path where bytes pass
// through Lambda): 512 MB for the bandwidth. The authorizer does one
// GetItem: 128 MB, 5 s. The sweeper runs hourly with 5 minutes.
var Specs = map[string]Spec{
	lambdas.Authorizer:       {MemoryMB: 128, TimeoutSec: 5},
	lambdas.SessionsOpen:     {MemoryMB: 256, TimeoutSec: 10},
	lambdas.Companion:        {MemoryMB: 512, TimeoutSec: 29},
	lambdas.Recorder:         {MemoryMB: 256, TimeoutSec: 29},
	lambdas.SessionsParts:    {MemoryMB: 256, TimeoutSec: 29},
	lambdas.SessionsComplete: {MemoryMB: 512, TimeoutSec: 29},
	lambdas.Sweeper:          {MemoryMB: 256, TimeoutSec: 300},
	lambdas.Files:            {MemoryMB: 256, TimeoutSec: 10},
	lambdas.Batches:          {MemoryMB: 512, TimeoutSec: 29},
	lambdas.Attachments:      {MemoryMB: 256, TimeoutSec: 10},
	lambdas.Tokens:           {MemoryMB: 128, TimeoutSec: 10},
	lambdas.Events:           {MemoryMB: 256, TimeoutSec: 10},
	// a test or a retry posts to the endpoint while the caller waits
	// (an attempt takes at most 10 s)
	lambdas.Webhooks: {MemoryMB: 256, TimeoutSec: 15},
	// a batch of up to 100 records: a Query per account, PutEvents and
	// SendMessageBatch calls of ten
	lambdas.Dispatcher: {MemoryMB: 256, TimeoutSec: 60},
	// ten deliveries in parallel, each at most 10 s; an endpoint's
	// attempt slot is leased for this long
	lambdas.Deliveries: {MemoryMB: 256, TimeoutSec: webhooks.FunctionTimeout.Seconds()},
	// one verdict: two reads and a transaction
	lambdas.Scans: {MemoryMB: 128, TimeoutSec: 10},
	// one version's previews: its bytes (at most previews.MaxSource) and
	// up to a 64-megapixel picture decoded in memory (render.MaxPixels),
	// within previews.Timeout; a cold start compiles pdfium's WebAssembly
	// for the first PDF (docs/performance.md)
	lambdas.Previews: {MemoryMB: 2048, TimeoutSec: 60},
}

// Stack exposes what tests and callers need.
type Stack struct {
	awscdk.Stack
	Table  awsdynamodb.Table
	Keys   awsdynamodb.Table // signing keys: only the functions that sign or verify may read it
	Bucket awss3.Bucket
	// Previews keeps the versions' previews: apart from the files, so
	// GuardDuty does not scan them and they never count in the usage.
	Previews  awss3.Bucket
	Functions map[string]awslambda.Function
	API       awsapigatewayv2.HttpApi
	// AsyncFailures holds the asynchronous invocations that failed (and
	// the stream batches the dispatcher could not route).
	AsyncFailures awssqs.Queue
	// Bus gets every event; Deliveries queues webhook deliveries, and
	// DeliveriesDLQ keeps those given up.
	Bus           awsevents.EventBus
	Deliveries    awssqs.Queue
	DeliveriesDLQ awssqs.Queue

	originSecret awssecretsmanager.Secret       // the edge's (addEdge)
	regional     awsapigatewayv2.DomainName     // the API's regional domain, if any
	accessLogs   awss3.Bucket                   // where S3 (and CloudFront, under edge) log requests
	liveFns      map[string]awslambda.IFunction // what invokes each function (released)
	deployments  awscodedeploy.LambdaApplication
	deployRole   awsiam.Role
	key          awskms.IKey // the data key (newDataKey), nil for AWS's own keys
}

// New builds the stack.
func New(scope constructs.Construct, id string, props Props) *Stack {
	props = props.Defaults()
	if b := props.PermissionsBoundary; b != "" {
		props.StackProps.PermissionsBoundary = awscdk.PermissionsBoundary_FromName(jsii.String(b))
		if strings.HasPrefix(b, "arn:") {
			props.StackProps.PermissionsBoundary = awscdk.PermissionsBoundary_FromArn(jsii.String(b))
		}
	}
	st := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := &Stack{Stack: st, Functions: map[string]awslambda.Function{}, liveFns: map[string]awslambda.IFunction{}}
	tag(st, props)
	s.newDataKey(props)

	s.Table = s.protectedTable("Metadata", awsdynamodb.StreamViewType_NEW_IMAGE) // the stream feeds the dispatcher
	s.Keys = s.protectedTable("SigningKeys", "")                                 // no index
	for _, gsi := range [][3]string{{dynamo.IndexGSI1, dynamo.AttrGSI1PK, dynamo.AttrGSI1SK}, {dynamo.IndexGSI2, dynamo.AttrGSI2PK, dynamo.AttrGSI2SK}} {
		s.Table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(gsi[0]),
			PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(gsi[1]), Type: awsdynamodb.AttributeType_STRING},
			SortKey:        &awsdynamodb.Attribute{Name: jsii.String(gsi[2]), Type: awsdynamodb.AttributeType_STRING},
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}

	s.accessLogs = newAccessLogs(st, props)
	filesProps := &awss3.BucketProps{
		ServerAccessLogsBucket: s.accessLogs,
		ServerAccessLogsPrefix: jsii.String("files/"),
		Versioned:              jsii.Bool(true),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
		Cors: &[]*awss3.CorsRule{{
			AllowedMethods: &[]awss3.HttpMethods{awss3.HttpMethods_GET, awss3.HttpMethods_HEAD, awss3.HttpMethods_PUT, awss3.HttpMethods_POST},
			AllowedOrigins: jsii.Strings(props.AllowedOrigins...),
			AllowedHeaders: jsii.Strings("*"),
			ExposedHeaders: jsii.Strings("ETag"),
			MaxAge:         jsii.Number(3000),
		}},
		// Trash is a delete marker on a versioned bucket: expire noncurrent
		// versions 30 days after they became noncurrent (not after
		// creation, which a tag or prefix rule would count from).
		LifecycleRules: &[]*awss3.LifecycleRule{
			// never before a session may end (upload.MaxSessionTTL)
			{Id: jsii.String("abort-incomplete-multipart-uploads"), AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(math.Ceil(upload.MaxSessionTTL.Hours() / 24)))},
			{Id: jsii.String("purge-trash"), NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30))},
			{Id: jsii.String("remove-expired-delete-markers"), ExpiredObjectDeleteMarker: jsii.Bool(true)},
			// the pieces Kommo's relayed parts stage until they fill an
			// S3 part: a day after the longest session may end
			{Id: jsii.String("expire-relay-pieces"), Prefix: jsii.String(relay.Prefix), Expiration: awscdk.Duration_Days(jsii.Number(math.Ceil(upload.MaxSessionTTL.Hours()/24) + 1)),
				NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(1))},
		},
	}
	// GuardDuty's malware protection learns of new objects from the
	// bucket's EventBridge notifications: on here, so that no update of
	// the bucket's notifications (the recorder's) switches them off
	filesProps.EventBridgeEnabled = jsii.Bool(!props.NoMalwareProtection)
	s.bucketEncryption(filesProps)
	s.Bucket = awss3.NewBucket(st, jsii.String("Files"), filesProps)
	// previews: written once per version, deleted with their file; no
	// versions, no CORS (an <img> loads them), no public access
	previewsProps := &awss3.BucketProps{
		ServerAccessLogsBucket: s.accessLogs,
		ServerAccessLogsPrefix: jsii.String("previews/"),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
	}
	s.bucketEncryption(previewsProps)
	s.Previews = awss3.NewBucket(st, jsii.String("Previews"), previewsProps)

	al := newAlarms(st, props, s.key)
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))
	sum := &awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}
	al.add("TableThrottled", s.Table.MetricThrottledRequestsForOperations(&awsdynamodb.OperationsMetricOptions{Period: fiveMinutes,
		Operations: &tableOperations}), rule{Threshold: 1, Of: 3, In: 5, Page: true},
		"Anexo: DynamoDB throttled requests in 3 of the last 5 five-minute periods (a hot account or partition)")

	// Asynchronous invocations (S3's notifications to the recorder, the
	// schedule's to the sweeper) that still fail after Lambda's two
	// retries, or that EventBridge could not deliver, land here instead
	// of being dropped; any message alarms, and so does AsyncEventsDropped.
	s.AsyncFailures = awssqs.NewQueue(st, jsii.String("AsyncFailures"), &awssqs.QueueProps{
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
	})
	al.add("AsyncFailuresQueued", s.AsyncFailures.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
		Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}), rule{Threshold: 1},
		"Anexo: an S3 event or a scheduled sweep failed after its retries (messages in the AsyncFailures queue)")

	// Events: every event to the bus; webhook deliveries through a queue
	// whose messages go to the dead-letter queue after their last attempt
	// (a message's receive count is its attempt number).
	s.Bus = awsevents.NewEventBus(st, jsii.String("Events"), &awsevents.EventBusProps{Description: jsii.String("Anexo: every event (source anexo, detail-type its type)")})
	// every event kept 30 days: a window of them can be replayed to the bus
	// (a rule whose target was down, a new consumer; docs/operations.md)
	archive := s.Bus.Archive(jsii.String("EventsArchive"), &awsevents.BaseArchiveProps{
		Description:  jsii.String("Anexo: every event, 30 days"),
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(eventbus.Source)},
		Retention:    awscdk.Duration_Days(jsii.Number(30)),
	})
	// aws-cdk-lib writes KmsKeyIdentifier "" without a key, which some
	// regions refuse (aws/aws-cdk#37847): no property is AWS's own key
	archive.Node().DefaultChild().(awsevents.CfnArchive).AddPropertyDeletionOverride(jsii.String("KmsKeyIdentifier"))
	s.DeliveriesDLQ = awssqs.NewQueue(st, jsii.String("DeliveriesDLQ"), s.queueEncryption(&awssqs.QueueProps{
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		EnforceSSL:      jsii.Bool(true),
	}))
	s.Deliveries = awssqs.NewQueue(st, jsii.String("Deliveries"), s.queueEncryption(&awssqs.QueueProps{
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(webhooks.QueueVisibility.Seconds())),
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(4)), // the schedule takes about 28 hours
		EnforceSSL:        jsii.Bool(true),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: s.DeliveriesDLQ, MaxReceiveCount: jsii.Number(webhooks.MaxReceives)},
	}))
	al.add("WebhookDeliveriesGivenUp", s.DeliveriesDLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
		Period: fiveMinutes, Statistic: jsii.String("Maximum")}), rule{Threshold: 1},
		"Anexo: webhook deliveries given up after their retries (messages in the DeliveriesDLQ queue; redrive them when the endpoints are back)")

	env := map[string]*string{
		"ANEXO_TRACING":        jsii.String("1"),
		"TABLE_NAME":           s.Table.TableName(),
		"KEYS_TABLE_NAME":      s.Keys.TableName(),
		"BUCKET_NAME":          s.Bucket.BucketName(),
		"PREVIEWS_BUCKET_NAME": s.Previews.BucketName(),
		"EVENT_BUS_NAME":       s.Bus.EventBusName(),
		"DELIVERY_QUEUE_URL":   s.Deliveries.QueueUrl(),
		"DELIVERY_DLQ_URL":     s.DeliveriesDLQ.QueueUrl(),
	}
	if s.key != nil { // local mode checks the key's grants with it; the code never names it
		env["ANEXO_KMS_KEY"] = s.key.KeyArn()
	}
	if !props.NoMalwareProtection {
		env["ANEXO_MALWARE_SCANNING"] = jsii.String("1")
	}
	if props.Edge {
		s.newOriginSecret()
		env["ANEXO_ORIGIN_SECRET"] = s.originSecret.SecretValue().UnsafeUnwrap()
	}
	level := logLevel(props.LogLevel)
	checkReservations(props)
	names := lambdas.All()
	sort.Strings(names)
	for _, name := range names {
		spec, ok := Specs[name]
		if _, hasPolicy := iam.Policies[name]; !ok || !hasPolicy {
			panic("stack: no spec or no IAM policy for function " + name)
		}
		cid := "Fn" + construct(name)
		logs := awslogs.NewLogGroup(st, jsii.String(cid+"Logs"), &awslogs.LogGroupProps{
			Retention: retention(props.LogRetentionDays), RemovalPolicy: awscdk.RemovalPolicy_DESTROY, EncryptionKey: s.key,
		})
		var onFailure awslambda.IDestination
		var retries *float64
		if slices.Contains(lambdas.Background, name) {
			onFailure, retries = awslambdadestinations.NewSqsDestination(s.AsyncFailures), jsii.Number(2)
		}
		fn := awslambda.NewFunction(st, jsii.String(cid), &awslambda.FunctionProps{
			OnFailure:     onFailure,
			RetryAttempts: retries,
			Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
			Architecture:  awslambda.Architecture_ARM_64(),
			Handler:       jsii.String("bootstrap"),
			Code:          awslambda.Code_FromAsset(jsii.String(props.AssetDir+"/"+name), nil),
			MemorySize:    jsii.Number(spec.MemoryMB),
			Timeout:       awscdk.Duration_Seconds(jsii.Number(spec.TimeoutSec)),
			LoggingFormat: awslambda.LoggingFormat_JSON,
			// Lambda drops application lines below the level
			ApplicationLogLevelV2: level,
			LogGroup:              logs,
			// nil: the account's unreserved pool
			ReservedConcurrentExecutions: reserved(props, name),
			Description:                  jsii.String("Anexo " + name),
			Tracing:                      awslambda.Tracing_ACTIVE,
			Environment:                  withFunction(env, name),
		})
		policy := iam.Policies[name]
		if s.key != nil {
			policy = policy.WithKey()
		}
		for _, st := range policy {
			if st.Resource.Kind == iam.KindMalwareScans && props.NoMalwareProtection {
				continue // no plan: nothing to scan on demand
			}
			var cond *map[string]any
			if c := st.Condition.IAM(); c != nil {
				cond = &c
			}
			fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:    jsii.Strings(st.Actions...),
				Conditions: cond,
				Resources: jsii.Strings(st.Resource.ARN(iam.ARNs{Table: *s.Table.TableArn(), Keys: *s.Keys.TableArn(), Bucket: *s.Bucket.BucketArn(),
					Queue: *s.Deliveries.QueueArn(), DeadLetters: *s.DeliveriesDLQ.QueueArn(), Bus: *s.Bus.EventBusArn(), Key: s.keyARN(), Previews: *s.Previews.BucketArn()})),
			}))
		}
		// the request path pages; background work notifies
		serves := slices.Contains(lambdas.HTTP, name)
		al.add(cid+"Errors", rate(name+" errors %", fn.MetricErrors(sum), fn.MetricInvocations(sum), fiveMinutes),
			rule{Threshold: 1, Of: 3, In: 5, Page: serves, Runbook: "function-errors"}, "Anexo "+name+": 1 % or more of its invocations failed in 3 of the last 5 five-minute periods")
		al.add(cid+"Throttles", fn.MetricThrottles(sum), rule{Threshold: 1, Of: 3, In: 5, Page: serves, Runbook: "function-throttles"},
			"Anexo "+name+" was throttled in 3 of the last 5 five-minute periods (concurrency)")
		al.add(cid+"NearTimeout", fn.MetricDuration(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Maximum")}),
			rule{Threshold: spec.TimeoutSec * 1000 * 0.8, Of: 3, In: 5, Runbook: "function-near-timeout"}, fmt.Sprintf("Anexo %s ran for 80%% of its %.0f s timeout in 3 of the last 5 five-minute periods", name, spec.TimeoutSec))
		if onFailure != nil {
			al.add(cid+"AsyncEventsDropped", fn.Metric(jsii.String("AsyncEventsDropped"), sum), rule{Threshold: 1, Runbook: "function-async-events-dropped"},
				"Anexo "+name+" dropped asynchronous events (too old, or the failure destination refused them)")
		}
		switch name {
		case lambdas.Dispatcher:
			al.add("DispatcherIteratorAge", fn.Metric(jsii.String("IteratorAge"), &awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Maximum")}),
				rule{Threshold: 5 * 60 * 1000, Of: 3, In: 5}, "Anexo: the dispatcher is 5 minutes or more behind the table's stream in 3 of the last 5 five-minute periods (events reach the bus and webhooks late)")
		case lambdas.Sweeper:
			al.add("SweeperHeartbeat", fn.MetricInvocations(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Hours(jsii.Number(3)), Statistic: jsii.String("Sum")}),
				rule{Threshold: 1, Below: true, Breach: true}, "Anexo: the hourly sweeper has not run for 3 hours (trash is not purged, sessions not settled)")
		}
		s.Functions[name] = fn
		var async *awslambda.EventInvokeConfigOptions
		if onFailure != nil {
			async = &awslambda.EventInvokeConfigOptions{OnFailure: onFailure, RetryAttempts: retries}
		}
		s.liveFns[name] = s.released(props, al, name, fn, async)
	}

	awsevents.NewRule(st, jsii.String("SweeperSchedule"), &awsevents.RuleProps{
		Description: jsii.String("Anexo: purge trashed files past their 30-day window"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Hours(jsii.Number(1))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(s.live(lambdas.Sweeper),
			&awseventstargets.LambdaFunctionProps{DeadLetterQueue: s.AsyncFailures, RetryAttempts: jsii.Number(2)})},
	})

	s.addEventSources(props)
	s.addMalwareProtection(props)
	s.addPreviews()
	s.limitPermanentDeletes()
	s.addBackup(props)
	s.addDataEvents(props)

	// Browser form uploads (Uppy's /s3/params) are recorded when S3 reports them.
	s.Bucket.AddEventNotification(awss3.EventType_OBJECT_CREATED_POST, awss3notifications.NewLambdaDestination(s.live(lambdas.Recorder)))

	s.API = awsapigatewayv2.NewHttpApi(st, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		Description:        jsii.String("Anexo file service"),
		CreateDefaultStage: jsii.Bool(false),
		// reached only at the origin domain CloudFront uses
		DisableExecuteApiEndpoint: jsii.Bool(props.Edge && props.EdgeOriginDomain != ""),
		CorsPreflight:             corsPreflight(props.AllowedOrigins),
	})
	stage := awsapigatewayv2.NewHttpStage(st, jsii.String("Stage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    s.API,
		StageName:  jsii.String(props.StageName),
		AutoDeploy: jsii.Bool(true),
		Throttle:   &awsapigatewayv2.ThrottleSettings{RateLimit: jsii.Number(props.ThrottleRate), BurstLimit: jsii.Number(props.ThrottleBurst)},
		// per-route metrics (the dashboard's latency per route): billed
		// per route and metric, so only when asked
		DetailedMetricsEnabled: jsii.Bool(props.DetailedMetrics),
	})
	// Access logs: one JSON line per request, with what an operator needs
	// to follow a request into the function's own log (request id).
	accessLogs := awslogs.NewLogGroup(st, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention: retention(props.LogRetentionDays), RemovalPolicy: awscdk.RemovalPolicy_DESTROY, EncryptionKey: s.key,
	})
	stage.Node().DefaultChild().(awsapigatewayv2.CfnStage).SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format:         jsii.String(AccessLogFormat),
	})
	identity := []string{"$request.header.Authorization"}
	if props.Edge { // a request without the edge's header never invokes the authorizer
		identity = append(identity, "$request.header."+httpapi.OriginHeader)
	}
	authorizer := awsapigatewayv2authorizers.NewHttpLambdaAuthorizer(jsii.String("TokenAuthorizer"), s.live(lambdas.Authorizer),
		&awsapigatewayv2authorizers.HttpLambdaAuthorizerProps{
			ResponseTypes:   &[]awsapigatewayv2authorizers.HttpLambdaResponseType{awsapigatewayv2authorizers.HttpLambdaResponseType_SIMPLE},
			IdentitySource:  jsii.Strings(identity...),
			ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(float64(props.AuthorizerTTL))),
		})
	integrations := map[string]awsapigatewayv2integrations.HttpLambdaIntegration{}
	for _, r := range httpapi.All() {
		in, ok := integrations[r.Function]
		if !ok {
			in = awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String(construct(r.Function)+"Integration"), s.live(r.Function), nil)
			integrations[r.Function] = in
		}
		opts := &awsapigatewayv2.AddRoutesOptions{Path: jsii.String(r.Path), Methods: &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(r.Method)}, Integration: in}
		if !r.Public {
			opts.Authorizer = authorizer
		}
		for _, route := range *s.API.AddRoutes(opts) {
			if r.Public {
				publicRoute(route)
			}
		}
	}
	s.routeThrottles(props, stage)
	al.add("Api5xx", rate("API 5xx %", s.API.MetricServerError(sum), s.API.MetricCount(sum), fiveMinutes),
		rule{Threshold: 1, Of: 3, In: 5, Page: true}, "Anexo API: 1 % or more of its answers were 5xx in 3 of the last 5 five-minute periods")
	al.add("Api4xx", rate("API 4xx %", s.API.MetricClientError(sum), s.API.MetricCount(sum), fiveMinutes),
		rule{Threshold: 25, Of: 3, In: 5}, "Anexo API: 25 % or more of its answers were 4xx (429 throttling included) in 3 of the last 5 five-minute periods")
	al.add("ApiLatencyP99", s.API.MetricLatency(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("p99")}),
		rule{Threshold: 5000, Of: 3, In: 5, Page: true}, "Anexo API: p99 latency of 5 s or more in 3 of the last 5 five-minute periods")
	al.add("DeliveriesStuck", s.Deliveries.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Maximum")}),
		rule{Threshold: 30 * 3600, Of: 3, In: 5}, "Anexo: a webhook delivery has waited 30 hours, past its whole retry schedule (the deliveries function is not consuming)")
	al.add("LambdaConcurrency", awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("AWS/Lambda"), MetricName: jsii.String("ConcurrentExecutions"),
		Period: fiveMinutes, Statistic: jsii.String("Maximum")}), rule{Threshold: props.ConcurrencyAlarm, Of: 3, In: 5},
		"Anexo: the account's Lambda concurrency is near its limit in 3 of the last 5 five-minute periods (every function may be throttled)")
	al.composite()

	s.addDashboard(props, stage, names)

	out := func(id string, v *string, what string) {
		awscdk.NewCfnOutput(st, jsii.String(id), &awscdk.CfnOutputProps{Value: v, Description: jsii.String(what)})
	}
	if !props.Edge || props.EdgeOriginDomain == "" { // else only CloudFront reaches it
		out("ApiUrl", stage.Url(), "Base URL of the Anexo API")
	}
	s.addDomain(props, stage, out)
	edge := s.addEdge(props, stage, out)
	// where clients reach the API: its domain, else CloudFront's under the
	// edge, else the stage's own URL
	api := stage.Url()
	switch {
	case props.DomainName != "":
		api = jsii.String("https://" + props.DomainName + "/")
	case edge != nil:
		api = jsii.String("https://" + *edge.DistributionDomainName() + "/")
	}
	s.addConsole(props, api, out)
	out("TableName", s.Table.TableName(), "DynamoDB metadata table")
	out("EventBusName", s.Bus.EventBusName(), "EventBridge bus every event is published to (add your rules here)")
	out("BucketName", s.Bucket.BucketName(), "S3 bucket of file bytes")
	out("DeliveriesQueueUrl", s.Deliveries.QueueUrl(), "SQS queue of webhook deliveries (anexo-admin events redispatch sends to it)")
	s.suppressNag(props)
	return s
}

// protectedTable is an on-demand table keyed pk/sk with TTL, point-in-time
// recovery and deletion protection, kept when the stack is deleted.
func (s *Stack) protectedTable(id string, stream awsdynamodb.StreamViewType) awsdynamodb.Table {
	tp := &awsdynamodb.TableProps{
		Stream:                           stream,
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String(dynamo.AttrPK), Type: awsdynamodb.AttributeType_STRING},
		SortKey:                          &awsdynamodb.Attribute{Name: jsii.String(dynamo.AttrSK), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute:              jsii.String(dynamo.AttrTTL),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
		RemovalPolicy:                    awscdk.RemovalPolicy_RETAIN,
		DeletionProtection:               jsii.Bool(true),
	}
	s.tableEncryption(tp)
	return awsdynamodb.NewTable(s.Stack, jsii.String(id), tp)
}

// tableOperations are the DynamoDB operations the functions make (an alarm
// sums at most 10 metrics).
var tableOperations = []awsdynamodb.Operation{awsdynamodb.Operation_GET_ITEM, awsdynamodb.Operation_BATCH_GET_ITEM,
	awsdynamodb.Operation_QUERY, awsdynamodb.Operation_PUT_ITEM, awsdynamodb.Operation_UPDATE_ITEM, awsdynamodb.Operation_DELETE_ITEM,
	awsdynamodb.Operation_TRANSACT_WRITE_ITEMS, awsdynamodb.Operation_TRANSACT_GET_ITEMS}

// AccessLogFormat is the HTTP API's access log line: request id (the
// Apigw-Requestid header clients see), route, status, latencies, and the
// authorizer's and the integration's errors.
const AccessLogFormat = `{"requestId":"$context.requestId","requestTime":"$context.requestTimeEpoch",` +
	`"method":"$context.httpMethod","routeKey":"$context.routeKey","path":"$context.path","status":"$context.status",` +
	`"latencyMs":"$context.responseLatency","integrationLatencyMs":"$context.integrationLatency",` +
	`"responseLength":"$context.responseLength","sourceIp":"$context.identity.sourceIp",` +
	`"userAgent":"$context.identity.userAgent","authorizerError":"$context.authorizer.error",` +
	`"integrationError":"$context.integrationErrorMessage","account":"$context.authorizer.account_id"}`

// withFunction is env with ANEXO_FUNCTION set to name.
func withFunction(env map[string]*string, name string) *map[string]*string {
	out := map[string]*string{"ANEXO_FUNCTION": jsii.String(name)}
	for k, v := range env {
		out[k] = v
	}
	return &out
}

// construct turns "sessions-open" into "SessionsOpen".
func construct(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// addEventSources connects the consumers: the table's stream (only
// inserted outbox records pass the filter) to the dispatcher, the
// deliveries queue to the delivery function. The mappings read with the
// functions' roles: the deliveries' grants are in iam.Policies (local mode
// enforces them); the stream's read, and the failure queue the stream
// mapping sends batches it gives up on to, are granted here (local mode
// has no stream API to call).
func (s *Stack) addEventSources(props Props) {
	dispatcher := s.Functions[lambdas.Dispatcher]
	if c := props.DeliveriesConcurrency; c < 2 || c > 1000 {
		panic(fmt.Sprintf("context deliveriesConcurrency: %v is not from 2 to 1000 (what an SQS event source allows)", c))
	}
	awslambda.NewEventSourceMapping(s.Stack, jsii.String("DispatcherStream"), &awslambda.EventSourceMappingProps{
		Target:             s.live(lambdas.Dispatcher),
		EventSourceArn:     s.Table.TableStreamArn(),
		StartingPosition:   awslambda.StartingPosition_TRIM_HORIZON,
		BatchSize:          jsii.Number(dispatch.StreamBatch),
		RetryAttempts:      jsii.Number(dispatch.StreamRetries),
		BisectBatchOnError: jsii.Bool(true),
		// the dispatcher reports the first record it did not dispatch: a
		// retry starts there, and the records before it are not sent twice
		ReportBatchItemFailures: jsii.Bool(true),
		MaxRecordAge:            awscdk.Duration_Hours(jsii.Number(24)),
		OnFailure:               awslambdaeventsources.NewSqsDlq(s.AsyncFailures),
		Filters:                 &[]*map[string]any{{"pattern": jsii.String(dynamo.StreamFilter)}},
	})
	dispatcher.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"),
		Resources: jsii.Strings(*s.Table.TableStreamArn()),
	}))
	awslambda.NewEventSourceMapping(s.Stack, jsii.String("DeliveriesQueue"), &awslambda.EventSourceMappingProps{
		Target:                  s.live(lambdas.Deliveries),
		EventSourceArn:          s.Deliveries.QueueArn(),
		BatchSize:               jsii.Number(webhooks.QueueBatch),
		ReportBatchItemFailures: jsii.Bool(true),
		// slow endpoints hold these invocations, not the account's
		// whole concurrency
		MaxConcurrency: jsii.Number(props.DeliveriesConcurrency),
	})
}

// corsPreflight is httpapi.CORS (which the local router answers with too)
// for origins.
func corsPreflight(origins []string) *awsapigatewayv2.CorsPreflightOptions {
	p := httpapi.CORS
	methods := make([]awsapigatewayv2.CorsHttpMethod, len(p.Methods))
	for i, m := range p.Methods {
		methods[i] = awsapigatewayv2.CorsHttpMethod(m)
	}
	return &awsapigatewayv2.CorsPreflightOptions{
		AllowOrigins:  jsii.Strings(origins...),
		AllowHeaders:  jsii.Strings(p.Headers...),
		AllowMethods:  &methods,
		ExposeHeaders: jsii.Strings(p.Expose...),
		MaxAge:        awscdk.Duration_Seconds(jsii.Number(p.MaxAge.Seconds())),
	}
}
