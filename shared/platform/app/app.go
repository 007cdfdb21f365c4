// Package app is the composition root: configuration → SDK clients →
// adapters → services → each function's handler. Every piece is built when
// first asked for, so a function links and builds only what it serves (the
// authorizer has no S3 client). The Lambda main packages and the local
// server both call it, so there is one wiring for both; functions.go holds
// one builder per function.
package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/anexo/anexo/shared/adapters/dynamo"
	"github.com/anexo/anexo/shared/adapters/eventbus"
	"github.com/anexo/anexo/shared/adapters/malwarescan"
	"github.com/anexo/anexo/shared/adapters/render"
	"github.com/anexo/anexo/shared/adapters/s3store"
	"github.com/anexo/anexo/shared/adapters/sqsqueue"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/batches"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/dispatch"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/keyring"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/previews"
	"github.com/anexo/anexo/shared/domain/relay"
	"github.com/anexo/anexo/shared/domain/requests"
	"github.com/anexo/anexo/shared/domain/scanning"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/domain/webhooks"
	"github.com/anexo/anexo/shared/inbound/triggers"
	"github.com/anexo/anexo/shared/platform/iam"
	"github.com/anexo/anexo/shared/platform/tracing"
)

// Config is read from the environment (see README "Configuration").
type Config struct {
	Table     string // TABLE_NAME
	KeysTable string // KEYS_TABLE_NAME: the signing keys (default TABLE_NAME-keys)
	Bucket    string // BUCKET_NAME
	// PreviewsBucket (PREVIEWS_BUCKET_NAME): where previews are kept,
	// apart from the files (unversioned, unscanned); default Bucket-previews.
	PreviewsBucket string
	Region         string // AWS_REGION
	DynamoEndpoint string // DYNAMODB_ENDPOINT: emulator URL, empty for AWS
	S3Endpoint     string // S3_ENDPOINT: emulator URL, empty for AWS
	// SQSEndpoint and EventsEndpoint (SQS_ENDPOINT, EVENTS_ENDPOINT):
	// emulator URLs, empty for AWS.
	SQSEndpoint    string
	EventsEndpoint string
	// GuardDutyEndpoint (GUARDDUTY_ENDPOINT): local mode's stand-in for
	// GuardDuty's on-demand scans, empty for AWS.
	GuardDutyEndpoint string
	QueueURL          string // DELIVERY_QUEUE_URL: the webhook deliveries queue
	DeadLetterURL     string // DELIVERY_DLQ_URL: where deliveries given up go
	// OriginSecret (ANEXO_ORIGIN_SECRET, set by the stack's edge): a
	// request without it in httpapi.OriginHeader did not come through
	// CloudFront and is refused.
	OriginSecret string
	BusName      string // EVENT_BUS_NAME: the bus every event is published to
	// KMSKey (ANEXO_KMS_KEY, set by the stack with kmsKey): the key the
	// bucket, the tables and the queues are encrypted with. The code never
	// names it (S3, DynamoDB and SQS use it on their own); EnforcePolicy
	// then also checks the key's actions each call needs.
	KMSKey string
	// RequestPage (ANEXO_REQUEST_PAGE, set by the stack with its console;
	// local mode sets it): the file requests' public page, where their
	// links point (PAGE#secret). Empty: the API answers a link's secret
	// alone.
	RequestPage string
	// LoopbackWebhooks admits http:// webhook endpoints on loopback (local
	// mode and tests only: no environment variable sets it).
	LoopbackWebhooks bool
	// WebhookRoots, when set, are the CA certificates webhook endpoints'
	// certificates must chain to (local mode: the system's and those of
	// ANEXO_WEBHOOK_CA_FILE in make run, webhooks.Roots; the stack never
	// sets it).
	WebhookRoots *x509.CertPool
	// WebhookTimeout bounds a delivery attempt (0: webhooks.AttemptTimeout;
	// tests shorten it).
	WebhookTimeout time.Duration
	AccessKey      string // static credentials for emulators (optional)
	SecretKey      string
	Limits         upload.Limits
	// EventSettle is how old an event is when the feed serves it (0:
	// outbox.Settle); tests on a real clock shorten it.
	EventSettle time.Duration
	Now         func() time.Time
	Log         *slog.Logger
	// ConfigHooks adjust the AWS config before clients are built (tests
	// install request counting and fault injection here).
	ConfigHooks []func(*aws.Config)
	// Function is the function this process serves (ANEXO_FUNCTION).
	Function string
	// Tracing (ANEXO_TRACING=1, set by the stack with Lambda's active
	// tracing) records every DynamoDB and S3 call as an X-Ray subsegment
	// of the invocation's trace.
	Tracing bool
	// MalwareScanning (ANEXO_MALWARE_SCANNING=1, set by the stack with
	// its malware protection plan; local mode's stand-in sets it): new
	// versions start pending a verdict instead of off.
	MalwareScanning bool
	// EnforcePolicy (ANEXO_ENFORCE_POLICY=1) checks every AWS call against
	// the function's IAM policy and answers as AWS would on a refusal:
	// local mode and tests, where the emulators accept every call.
	EnforcePolicy bool
}

// FromEnv reads the configuration.
func FromEnv() Config {
	c := Config{Table: getenv("TABLE_NAME", "anexo"), Bucket: getenv("BUCKET_NAME", "anexo-files"),
		Region: getenv("AWS_REGION", "us-east-1"), DynamoEndpoint: os.Getenv("DYNAMODB_ENDPOINT"),
		S3Endpoint: os.Getenv("S3_ENDPOINT"), Function: os.Getenv("ANEXO_FUNCTION"),
		SQSEndpoint: os.Getenv("SQS_ENDPOINT"), EventsEndpoint: os.Getenv("EVENTS_ENDPOINT"), GuardDutyEndpoint: os.Getenv("GUARDDUTY_ENDPOINT"),
		QueueURL: os.Getenv("DELIVERY_QUEUE_URL"), DeadLetterURL: os.Getenv("DELIVERY_DLQ_URL"), OriginSecret: os.Getenv("ANEXO_ORIGIN_SECRET"), KMSKey: os.Getenv("ANEXO_KMS_KEY"), BusName: getenv("EVENT_BUS_NAME", "anexo"),
		EnforcePolicy: os.Getenv("ANEXO_ENFORCE_POLICY") == "1", Tracing: os.Getenv("ANEXO_TRACING") == "1",
		MalwareScanning: os.Getenv("ANEXO_MALWARE_SCANNING") == "1"}
	c.KeysTable = getenv("KEYS_TABLE_NAME", c.Table+"-keys")
	c.PreviewsBucket = os.Getenv("PREVIEWS_BUCKET_NAME")
	c.RequestPage = os.Getenv("ANEXO_REQUEST_PAGE")
	c.Limits.MinPartSize = envInt("MIN_PART_SIZE")
	c.Limits.MaxFileSize = envInt("MAX_FILE_SIZE")
	c.Limits.SessionTTL = time.Duration(envInt("SESSION_TTL_SECONDS")) * time.Second
	c.Limits.PartURLTTL = time.Duration(envInt("PART_URL_TTL_SECONDS")) * time.Second
	return c
}

// PreviewsBucketName is the previews' bucket: PreviewsBucket, or the
// bucket's name with "-previews".
func (c Config) PreviewsBucketName() string {
	if c.PreviewsBucket != "" {
		return c.PreviewsBucket
	}
	return c.Bucket + "-previews"
}

// KeysTableName is the signing keys' table: KeysTable, or the table's name
// with "-keys".
func (c Config) KeysTableName() string {
	if c.KeysTable != "" {
		return c.KeysTable
	}
	return c.Table + "-keys"
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(k string) int64 {
	n, _ := strconv.ParseInt(os.Getenv(k), 10, 64)
	return n
}

// Deps are the clients, adapters and services of one process (one
// function), each built once, when first asked for.
type Deps struct {
	Cfg Config
	Log *slog.Logger
	// Enforcer is set when the configuration enforces the function's policy.
	Enforcer *iam.Enforcer
	// memory: wired on the memory drivers (Memory), with no SDK client.
	memory bool

	aws      aws.Config
	dynamoDB lazy[*dynamodb.Client]
	s3       lazy[*s3.Client]
	store    lazy[Store]
	keys     lazy[keyring.Store]
	blobs    lazy[Blobs]
	images   lazy[PreviewImages]
	auth     lazy[*auth.Service]
	entities lazy[*entities.Service]
	uploads  lazy[*upload.Service]
	batches  lazy[*batches.Service]
	relay    lazy[*relay.Service]
	catalog  lazy[*catalog.Catalog]
	feed     lazy[*outbox.Feed]
	sqs      lazy[*sqs.Client]
	bridge   lazy[*eventbridge.Client]
	guard    lazy[*guardduty.Client]
	queue    lazy[Queue]
	bus      lazy[dispatch.Bus]
	webhooks lazy[*webhooks.Service]
	requests lazy[*requests.Service]
	dispatch lazy[*dispatch.Dispatcher]
}

// lazy is a value built once, by the first caller.
type lazy[T any] struct {
	once sync.Once
	v    T
}

func (l *lazy[T]) get(build func() T) T {
	l.once.Do(func() { l.v = build() })
	return l.v
}

// JSONLogger is the structured logger every function uses, at the level
// Lambda's logging configuration sets (AWS_LAMBDA_LOG_LEVEL; INFO without
// one), so a line Lambda would drop is not even formatted.
func JSONLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: LogLevel(os.Getenv("AWS_LAMBDA_LOG_LEVEL"))}))
}

// LogLevel maps Lambda's application log levels onto slog's (TRACE is
// DEBUG, FATAL is ERROR); anything else is INFO.
func LogLevel(lambda string) slog.Level {
	switch strings.ToUpper(lambda) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// New wires a process from its configuration and the AWS configuration
// its clients use: the enforcer of the function's IAM policy when asked,
// X-Ray subsegments when tracing, and the hooks of c.
func New(c Config, awsCfg aws.Config) (*Deps, error) {
	if c.Tracing {
		(&tracing.Recorder{}).Install(&awsCfg)
	}
	for _, o := range c.ConfigHooks {
		o(&awsCfg)
	}
	if c.Log == nil {
		c.Log = JSONLogger()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	d := &Deps{Cfg: c, Log: c.Log}
	if c.EnforcePolicy {
		var err error
		if d.Enforcer, err = iam.NewEnforcer(c.Function, iam.Names{Table: c.Table, Keys: c.KeysTableName(), Bucket: c.Bucket, Previews: c.PreviewsBucketName(),
			Queue: c.QueueURL, DeadLetters: c.DeadLetterURL, Bus: c.BusName, Key: c.KMSKey}, c.Log); err != nil {
			return nil, err
		}
		d.Enforcer.Install(&awsCfg)
	}
	d.aws = awsCfg
	return d, nil
}

// sdk refuses an SDK client to a process wired on the memory drivers: a
// piece of the wiring that reaches past the ports is a bug there.
func (d *Deps) sdk() {
	if d.memory {
		panic("app: an AWS client asked for by a process wired on the memory drivers")
	}
}

// DynamoDB is the DynamoDB client.
func (d *Deps) DynamoDB() *dynamodb.Client {
	d.sdk()
	return d.dynamoDB.get(func() *dynamodb.Client {
		return dynamodb.NewFromConfig(d.aws, func(o *dynamodb.Options) {
			if d.Cfg.DynamoEndpoint != "" {
				o.BaseEndpoint = aws.String(d.Cfg.DynamoEndpoint)
				// minidyn does not send X-Amz-Crc32; emulators only.
				o.DisableValidateResponseChecksum = true
			}
		})
	})
}

// S3 is the S3 client.
func (d *Deps) S3() *s3.Client {
	d.sdk()
	return d.s3.get(func() *s3.Client {
		return s3.NewFromConfig(d.aws, func(o *s3.Options) {
			s3store.ClientOptions(o)
			if d.Cfg.S3Endpoint != "" {
				o.BaseEndpoint = aws.String(d.Cfg.S3Endpoint)
				o.UsePathStyle = true
			}
		})
	})
}

// SQS is the SQS client.
func (d *Deps) SQS() *sqs.Client {
	d.sdk()
	return d.sqs.get(func() *sqs.Client {
		return sqs.NewFromConfig(d.aws, func(o *sqs.Options) {
			if d.Cfg.SQSEndpoint != "" {
				o.BaseEndpoint = aws.String(d.Cfg.SQSEndpoint)
			}
		})
	})
}

// EventBridge is the EventBridge client.
func (d *Deps) EventBridge() *eventbridge.Client {
	d.sdk()
	return d.bridge.get(func() *eventbridge.Client {
		return eventbridge.NewFromConfig(d.aws, func(o *eventbridge.Options) {
			if d.Cfg.EventsEndpoint != "" {
				o.BaseEndpoint = aws.String(d.Cfg.EventsEndpoint)
			}
		})
	})
}

// GuardDuty is the GuardDuty client (on-demand malware scans).
func (d *Deps) GuardDuty() *guardduty.Client {
	d.sdk()
	return d.guard.get(func() *guardduty.Client {
		return guardduty.NewFromConfig(d.aws, func(o *guardduty.Options) {
			if d.Cfg.GuardDutyEndpoint != "" {
				o.BaseEndpoint = aws.String(d.Cfg.GuardDutyEndpoint)
			}
		})
	})
}

// Queue is the webhook deliveries queue.
func (d *Deps) Queue() Queue {
	return d.queue.get(func() Queue { return sqsqueue.New(d.SQS(), d.Cfg.QueueURL, d.Cfg.DeadLetterURL) })
}

// Bus is the event bus every event is published to.
func (d *Deps) Bus() dispatch.Bus {
	return d.bus.get(func() dispatch.Bus { return eventbus.New(d.EventBridge(), d.Cfg.BusName) })
}

// Webhooks is the accounts' webhooks and their delivery.
func (d *Deps) Webhooks() *webhooks.Service {
	return d.webhooks.get(func() *webhooks.Service {
		sender := webhooks.NewSender(d.Cfg.LoopbackWebhooks)
		if d.Cfg.WebhookTimeout > 0 {
			sender.WithTimeout(d.Cfg.WebhookTimeout)
		}
		if d.Cfg.WebhookRoots != nil {
			sender.Trust(d.Cfg.WebhookRoots)
		}
		return &webhooks.Service{Store: d.Store(), Sender: sender, Queue: d.Queue(), Clock: d.Cfg.Now, Loopback: d.Cfg.LoopbackWebhooks}
	})
}

// Dispatch routes outbox records to the bus and the deliveries queue.
func (d *Deps) Dispatch() *dispatch.Dispatcher {
	return d.dispatch.get(func() *dispatch.Dispatcher {
		return &dispatch.Dispatcher{Bus: d.Bus(), Queue: d.Queue(), Webhooks: d.Store()}
	})
}

// Store is the metadata table: every port of it, as dynamo.Store and
// memory.Store implement them.
type Store interface {
	auth.Store
	upload.Store
	catalog.Store
	entities.Store
	batches.Store
	outbox.Outbox
	webhooks.Store
	scanning.Store
	previews.Store
	requests.Store
	Usage(ctx context.Context, accountID string) (files.Usage, error)
}

// Blobs is the bucket: every port of it, as s3store.Store and
// memory.Blobs implement them.
type Blobs interface {
	upload.Blobs
	catalog.Blobs
	batches.Blobs
	relay.Blobs
	scanning.Tags
	previews.Sources
}

// Queue is the deliveries queue: what the dispatcher sends and the
// delivery function postpones.
type Queue interface {
	dispatch.Queue
	triggers.Postponer
}

// Store is the metadata table.
func (d *Deps) Store() Store {
	return d.store.get(func() Store { return dynamo.New(d.DynamoDB(), d.Cfg.Table) })
}

// Keys is the signing keys' table.
func (d *Deps) Keys() keyring.Store {
	return d.keys.get(func() keyring.Store { return dynamo.NewKeyStore(d.DynamoDB(), d.Cfg.KeysTableName()) })
}

// Blobs is the bucket.
func (d *Deps) Blobs() Blobs {
	return d.blobs.get(func() Blobs {
		return s3store.New(d.S3(), s3.NewPresignClient(d.S3()), d.Cfg.Bucket)
	})
}

// PreviewImages is the previews' bucket: every port of it, as s3store.Store
// and memory.Blobs implement them.
type PreviewImages interface {
	catalog.PreviewImages
	previews.Images
}

// PreviewImages is the previews' bucket.
func (d *Deps) PreviewImages() PreviewImages {
	return d.images.get(func() PreviewImages {
		return s3store.New(d.S3(), s3.NewPresignClient(d.S3()), d.Cfg.PreviewsBucketName())
	})
}

// Previews renders versions' previews.
func (d *Deps) Previews() *previews.Service {
	return &previews.Service{Store: d.Store(), Sources: d.Blobs(), Images: d.PreviewImages(), Renderer: &render.Renderer{}, Clock: d.Cfg.Now}
}

// Auth is accounts, tokens and tickets.
func (d *Deps) Auth() *auth.Service {
	return d.auth.get(func() *auth.Service { return &auth.Service{Store: d.Store(), Clock: d.Cfg.Now} })
}

// Entities is the entity directory and attachments.
func (d *Deps) Entities() *entities.Service {
	return d.entities.get(func() *entities.Service { return &entities.Service{Store: d.Store(), Clock: d.Cfg.Now} })
}

// Requests is file requests.
func (d *Deps) Requests() *requests.Service {
	return d.requests.get(func() *requests.Service {
		return &requests.Service{Store: d.Store(), Entities: d.Entities(), Clock: d.Cfg.Now, PageURL: d.Cfg.RequestPage,
			Scanning: d.Cfg.MalwareScanning}
	})
}

// Uploads is upload sessions.
func (d *Deps) Uploads() *upload.Service {
	return d.uploads.get(func() *upload.Service {
		u := upload.NewService(d.Store(), d.Blobs(), d.Cfg.Limits, d.Cfg.Now, d.Log)
		u.Entities = d.Entities()
		u.Scanning = d.Cfg.MalwareScanning
		return u
	})
}

// Batches is Wegly batch uploads.
func (d *Deps) Batches() *batches.Service {
	return d.batches.get(func() *batches.Service {
		return &batches.Service{Store: d.Store(), Blobs: d.Blobs(), Entities: d.Entities(), Clock: d.Cfg.Now, Scanning: d.Cfg.MalwareScanning}
	})
}

// Relay is uploads whose parts come through the API (Kommo's wire).
func (d *Deps) Relay() *relay.Service {
	return d.relay.get(func() *relay.Service {
		return &relay.Service{Uploads: d.Uploads(), Blobs: d.Blobs(), Tickets: d.Ring(RelayKeys), Clock: d.Cfg.Now}
	})
}

// Catalog is the file catalogue.
func (d *Deps) Catalog() *catalog.Catalog {
	return d.catalog.get(func() *catalog.Catalog {
		return &catalog.Catalog{Store: d.Store(), Blobs: d.Blobs(), Previews: d.PreviewImages(), Entities: d.Entities(), Cursors: d.Ring(CursorKeys), Clock: d.Cfg.Now}
	})
}

// Scans records malware verdicts.
func (d *Deps) Scans() *scanning.Service {
	s := &scanning.Service{Store: d.Store(), Tags: d.Blobs(), Blobs: d.Blobs(), Receipts: d.Requests(), Clock: d.Cfg.Now}
	if d.Cfg.MalwareScanning && !d.memory {
		s.Scanner = malwarescan.New(d.GuardDuty(), d.Cfg.Bucket)
	}
	return s
}

// Feed is the event feed.
func (d *Deps) Feed() *outbox.Feed {
	return d.feed.get(func() *outbox.Feed {
		return &outbox.Feed{Store: d.Store(), Cursors: d.Ring(EventKeys), Clock: d.Cfg.Now, Settle: d.Cfg.EventSettle}
	})
}

// The keyrings: listing cursors, upload tickets, event feed cursors,
// relayed parts' URLs.
const (
	CursorKeys = "cursor"
	TicketKeys = "ticket"
	EventKeys  = "events"
	RelayKeys  = "relay"
)

// Ring returns a keyring over the process's key store; each verifies for
// the longest life of what it signs.
func (d *Deps) Ring(purpose string) *keyring.Ring {
	lifetime := map[string]time.Duration{CursorKeys: catalog.CursorTTL, TicketKeys: auth.MaxTicketTTL, EventKeys: outbox.Retention,
		RelayKeys: upload.MaxSessionTTL}[purpose]
	return &keyring.Ring{Store: d.Keys(), Purpose: purpose, Lifetime: lifetime, Clock: d.Cfg.Now}
}

// Provision creates the table and the versioned bucket, whose CORS
// configuration admits browser uploads from corsOrigins (local and tests;
// the CDK stack owns them in AWS).
func (d *Deps) Provision(ctx context.Context, corsOrigins ...string) error {
	if err := dynamo.EnsureTable(ctx, d.DynamoDB(), d.Cfg.Table); err != nil {
		return err
	}
	if err := dynamo.EnsureKeysTable(ctx, d.DynamoDB(), d.Cfg.KeysTableName()); err != nil {
		return err
	}
	if err := s3store.EnsureBucket(ctx, d.S3(), d.Cfg.Bucket, corsOrigins); err != nil {
		return err
	}
	if err := s3store.EnsurePlainBucket(ctx, d.S3(), d.Cfg.PreviewsBucketName()); err != nil {
		return err
	}
	if d.Cfg.SQSEndpoint == "" || d.Cfg.EventsEndpoint == "" {
		return nil
	}
	return d.ProvisionMessaging(ctx)
}

// ProvisionMessaging creates the deliveries queue (its messages go to a
// dead-letter queue after webhooks.MaxReceives receives, or when the
// delivery function gives them up) and the event bus, and points the
// configuration at both queues.
func (d *Deps) ProvisionMessaging(ctx context.Context) error {
	name := d.Cfg.Table + "-deliveries"
	dlq, err := d.SQS().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		return fmt.Errorf("create dead-letter queue: %w", err)
	}
	attrs, err := d.SQS().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return fmt.Errorf("dead-letter queue: %w", err)
	}
	redrive := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, attrs.Attributes["QueueArn"], webhooks.MaxReceives)
	q, err := d.SQS().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"VisibilityTimeout": strconv.Itoa(int(webhooks.QueueVisibility.Seconds())), "RedrivePolicy": redrive}})
	if err != nil {
		return fmt.Errorf("create deliveries queue: %w", err)
	}
	d.Cfg.QueueURL, d.Cfg.DeadLetterURL = aws.ToString(q.QueueUrl), aws.ToString(dlq.QueueUrl)
	_, err = d.EventBridge().CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(d.Cfg.BusName)})
	var exists *ebtypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create event bus: %w", err)
	}
	return nil
}

// Lambda wires a function from its environment: the configuration, and the
// region and credentials Lambda sets (the role's for the environment's
// life). The SDK's config loader (profiles, SSO, IMDS) stays out of the
// function binaries. A cold start that cannot wire — no credentials in
// the environment, say (under aws-lambda-rie against emulators, any values
// do) — fails loudly.
func Lambda() *Deps {
	c := FromEnv()
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		fail(errors.New("no AWS credentials in the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (any values for emulators)"))
	}
	awsCfg := aws.Config{Region: c.Region, Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, SessionToken: os.Getenv("AWS_SESSION_TOKEN"), Source: "environment"}, nil
	})}
	d, err := New(c, awsCfg)
	if err != nil {
		fail(err)
	}
	return d
}

func fail(err error) {
	slog.Error("startup failed", "err", err)
	os.Exit(1)
}
