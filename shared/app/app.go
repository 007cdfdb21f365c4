// Package app builds every function's handler from configuration: SDK
// clients (built once per cold start) → adapters → services → handlers. The
// Lambda main packages and the local server both call it, so there is one
// wiring for both.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/anexo/anexo/shared/api"
	"github.com/anexo/anexo/shared/attachapi"
	"github.com/anexo/anexo/shared/auth"
	"github.com/anexo/anexo/shared/authorizer"
	"github.com/anexo/anexo/shared/batchapi"
	"github.com/anexo/anexo/shared/batches"
	"github.com/anexo/anexo/shared/catalog"
	"github.com/anexo/anexo/shared/companion"
	"github.com/anexo/anexo/shared/dynamo"
	"github.com/anexo/anexo/shared/entities"
	"github.com/anexo/anexo/shared/filesapi"
	"github.com/anexo/anexo/shared/iam"
	"github.com/anexo/anexo/shared/keyring"
	"github.com/anexo/anexo/shared/routes"
	"github.com/anexo/anexo/shared/s3store"
	"github.com/anexo/anexo/shared/sessionapi"
	"github.com/anexo/anexo/shared/tokenapi"
	"github.com/anexo/anexo/shared/tracing"
	"github.com/anexo/anexo/shared/upload"
)

// Placeholder credentials for emulator endpoints when none are set (moto
// and minidyn accept any signature). The embedded S3 does not accept them:
// it has keys of its own, generated per run (local.S3Credentials).
const (
	EmulatorAccessKey = "anexo-emulator"
	EmulatorSecretKey = "anexo-emulator-secret-key"
)

// Config is read from the environment (see README "Configuration").
type Config struct {
	Table          string // TABLE_NAME
	KeysTable      string // KEYS_TABLE_NAME: the signing keys (default TABLE_NAME-keys)
	Bucket         string // BUCKET_NAME
	Region         string // AWS_REGION
	DynamoEndpoint string // DYNAMODB_ENDPOINT: emulator URL, empty for AWS
	S3Endpoint     string // S3_ENDPOINT: emulator URL, empty for AWS
	AccessKey      string // static credentials for emulators (optional)
	SecretKey      string
	Limits         upload.Limits
	Now            func() time.Time
	Log            *slog.Logger
	// ConfigHooks adjust the AWS config before clients are built (tests
	// install request counting and fault injection here).
	ConfigHooks []func(*aws.Config)
	// Function is the function this process serves (ANEXO_FUNCTION).
	Function string
	// Tracing (ANEXO_TRACING=1, set by the stack with Lambda's active
	// tracing) records every DynamoDB and S3 call as an X-Ray subsegment
	// of the invocation's trace.
	Tracing bool
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
		EnforcePolicy: os.Getenv("ANEXO_ENFORCE_POLICY") == "1", Tracing: os.Getenv("ANEXO_TRACING") == "1"}
	c.KeysTable = getenv("KEYS_TABLE_NAME", c.Table+"-keys")
	c.Limits.MinPartSize = envInt("MIN_PART_SIZE")
	c.Limits.MaxFileSize = envInt("MAX_FILE_SIZE")
	c.Limits.SessionTTL = time.Duration(envInt("SESSION_TTL_SECONDS")) * time.Second
	c.Limits.PartURLTTL = time.Duration(envInt("PART_URL_TTL_SECONDS")) * time.Second
	return c
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

// Deps are the clients and adapters shared by all handlers of a process.
type Deps struct {
	Cfg       Config
	Dynamo    *dynamodb.Client
	S3        *s3.Client
	Store     *dynamo.Store
	Keys      *dynamo.KeyStore
	Blobs     *s3store.Store
	Auth      *auth.Service
	Uploads   *upload.Service
	Catalog   *catalog.Catalog
	Entities  *entities.Service
	Batches   *batches.Service
	Companion *companion.API
	Log       *slog.Logger
	// Enforcer is set when the configuration enforces the function's policy.
	Enforcer *iam.Enforcer
}

// JSONLogger is the structured logger every function uses.
func JSONLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// Connect builds clients, adapters and services.
func Connect(ctx context.Context, c Config) (*Deps, error) {
	if c.AccessKey == "" && (c.DynamoEndpoint != "" || c.S3Endpoint != "") && os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		c.AccessKey, c.SecretKey = EmulatorAccessKey, EmulatorSecretKey
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(c.Region)}
	if c.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
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
		if d.Enforcer, err = iam.NewEnforcer(c.Function, c.Table, c.KeysTableName(), c.Bucket, c.Log); err != nil {
			return nil, err
		}
		d.Enforcer.Install(&awsCfg)
	}
	d.Dynamo = dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if c.DynamoEndpoint != "" {
			o.BaseEndpoint = aws.String(c.DynamoEndpoint)
			// minidyn does not send X-Amz-Crc32; emulators only.
			o.DisableValidateResponseChecksum = true
		}
	})
	d.S3 = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		s3store.ClientOptions(o)
		if c.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(c.S3Endpoint)
			o.UsePathStyle = true
		}
	})
	d.Store = dynamo.New(d.Dynamo, c.Table)
	d.Keys = dynamo.NewKeyStore(d.Dynamo, c.KeysTableName())
	d.Blobs = s3store.New(d.S3, s3.NewPresignClient(d.S3), c.Bucket)
	d.Auth = &auth.Service{Store: d.Store, Now: c.Now}
	d.Entities = &entities.Service{Store: d.Store, Now: c.Now}
	d.Uploads = upload.NewService(d.Store, d.Blobs, c.Limits, c.Now, c.Log)
	d.Uploads.Entities = d.Entities
	d.Batches = &batches.Service{Store: d.Store, Blobs: d.Blobs, Entities: d.Entities, Now: c.Now}
	d.Companion = &companion.API{Svc: d.Uploads, Now: c.Now, Live: d.Auth.CheckLive, Tickets: d.Ring(TicketKeys)}
	d.Catalog = &catalog.Catalog{Service: &catalog.Service{Store: d.Store, Blobs: d.Blobs, Clock: c.Now}, Lister: d.Store, Trasher: d.Store,
		Hider: d.Blobs, Now: c.Now, Entities: d.Entities,
		Cursors: d.Ring(CursorKeys)}
	return d, nil
}

// The keyrings: listing cursors and upload tickets.
const (
	CursorKeys = "cursor"
	TicketKeys = "ticket"
)

// Ring returns a keyring over the process's key store; each verifies for
// the longest life of what it signs.
func (d *Deps) Ring(purpose string) *keyring.Ring {
	lifetime := map[string]time.Duration{CursorKeys: catalog.CursorTTL, TicketKeys: auth.MaxTicketTTL}[purpose]
	return &keyring.Ring{Store: d.Keys, Purpose: purpose, Lifetime: lifetime, Now: d.Cfg.Now}
}

// MustConnect is Connect for main packages: a cold start that cannot build
// its clients fails loudly.
func MustConnect(ctx context.Context, c Config) *Deps {
	d, err := Connect(ctx, c)
	if err != nil {
		slog.Error("startup failed", "err", err)
		os.Exit(1)
	}
	return d
}

// Authorizer is the authorizer function's handler.
func (d *Deps) Authorizer() authorizer.Handler { return authorizer.New(d.Auth, d.Log) }

// SweepReserve is the time a sweep keeps before its invocation's deadline:
// it starts another batch only with more than this left (one batch of 100
// purges takes a few seconds).
const SweepReserve = 30 * time.Second

// Sweeper is the scheduled purge of trashed files past their window, of
// the bytes of batch uploads a crash left uncommitted, and the pass that
// completes upload sessions whose parts are all in but which nobody
// completed (upload.Service.Settle). It works batch
// after batch until nothing is due or its time is spent, so a backlog
// drains at the function's full speed rather than one batch per run.
func (d *Deps) Sweeper() func(ctx context.Context, ev events.EventBridgeEvent) error {
	return func(ctx context.Context, ev events.EventBridgeEvent) error {
		n, err := drain(ctx, d.Catalog.Sweep, catalog.SweepBatch)
		var b, s int
		if err == nil {
			b, err = drain(ctx, d.Batches.Sweep, batches.SweepBatch)
		}
		if err == nil {
			s, err = drain(ctx, d.Uploads.Settle, upload.SettleBatch)
		}
		if err != nil {
			d.Log.ErrorContext(ctx, "sweep failed", "function", routes.FnSweeper, "request_id", ev.ID, "purged", n, "stale_batches", b, "sessions", s, "err", err)
			return err
		}
		d.Log.InfoContext(ctx, "sweep", "function", routes.FnSweeper, "request_id", ev.ID, "purged", n, "stale_batches", b, "sessions", s)
		return nil
	}
}

// drain repeats a sweep step while it comes back with a full batch (more
// are due) and the invocation has time for another.
func drain(ctx context.Context, step func(context.Context) (int, error), batch int) (int, error) {
	total := 0
	for {
		n, err := step(ctx)
		total += n
		if err != nil || n < batch || ctx.Err() != nil {
			return total, err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= SweepReserve {
			return total, nil
		}
	}
}

// Recorder records browser form uploads S3 reports (ObjectCreated events);
// other keys are ignored, and a repeated event changes nothing.
func (d *Deps) Recorder() func(ctx context.Context, ev events.S3Event) error {
	return func(ctx context.Context, ev events.S3Event) error {
		rid := ""
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			rid = lc.AwsRequestID
		}
		log := d.Log.With("function", routes.FnRecorder, "request_id", rid)
		defer log.InfoContext(ctx, "s3 event", "records", len(ev.Records))
		for _, r := range ev.Records {
			if !strings.Contains(r.EventName, "ObjectCreated") {
				continue
			}
			key := r.S3.Object.URLDecodedKey
			if key == "" {
				key, _ = url.QueryUnescape(r.S3.Object.Key)
			}
			if err := d.Uploads.RecordObject(ctx, key, r.S3.Object.VersionID); err != nil {
				log.ErrorContext(ctx, "record upload failed", "key", key, "err", err)
				return err // S3 retries the event
			}
			log.InfoContext(ctx, "object reported", "key", key, "event", r.EventName)
		}
		return nil
	}
}

// Handler is the HTTP handler of one function.
func (d *Deps) Handler(fn string) api.Handler {
	sessions := sessionapi.API{Svc: d.Uploads}
	var r api.Routes
	var envelopes map[string]api.Envelope
	switch fn {
	case routes.FnSessionsOpen:
		r = sessions.OpenRoutes()
		for k, v := range d.Companion.TicketRoutes() {
			r[k] = v
		}
	case routes.FnCompanion:
		r = d.Companion.Routes()
	case routes.FnSessionsParts:
		r = sessions.PartsRoutes()
	case routes.FnSessionsComplete:
		r = sessions.CompleteRoutes()
	case routes.FnFiles:
		r = filesapi.API{Catalog: d.Catalog}.Routes()
	case routes.FnAttachments:
		a := attachapi.API{Entities: d.Entities, Catalog: d.Catalog}
		r, envelopes = a.Routes(), a.Envelopes()
	case routes.FnBatches:
		r = batchapi.API{Batches: d.Batches}.Routes()
	case routes.FnTokens:
		r = tokenapi.API{Auth: d.Auth}.Routes()
	default:
		panic("app: unknown function " + fn)
	}
	return api.Serve(d.Log.With("function", fn), r, envelopes)
}

// Provision creates the table and the versioned bucket, whose CORS
// configuration admits browser uploads from corsOrigins (local and tests;
// the CDK stack owns them in AWS).
func (d *Deps) Provision(ctx context.Context, corsOrigins ...string) error {
	if err := dynamo.EnsureTable(ctx, d.Dynamo, d.Cfg.Table); err != nil {
		return err
	}
	if err := dynamo.EnsureKeysTable(ctx, d.Dynamo, d.Cfg.KeysTableName()); err != nil {
		return err
	}
	return s3store.EnsureBucket(ctx, d.S3, d.Cfg.Bucket, corsOrigins)
}
