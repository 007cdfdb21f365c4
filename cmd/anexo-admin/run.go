package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/cmdline"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/dispatch"
	"github.com/anexo/anexo/shared/inbound/httpapi"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/platform/awsconfig"
)

const usage = `usage: anexo-admin <command> [flags]

  account create --name NAME [--quota BYTES] [--json]
                 creates an account and its first admin token (all scopes, tokens:admin
                 included) and prints the token's secret, once
  account list   [--json]
  account show ID [--json]   the account, its usage and its tokens
  token create --account ID --name NAME [--scopes files:read,files:write]
               [--allowed-domain ORIGIN] [--ttl DURATION]   (a lost admin token: mint another)
  keys list      the signing keys of listing cursors, upload tickets and event-feed
                 cursors: ids, ages, until when they verify
  keys rotate [--purpose cursor|ticket|events] [--retire]
                 a new key signs from the next request on, in every function;
                 --retire also ends the earlier keys from the next request on, and with
                 them every cursor and upload ticket they signed (a leaked key)
  events redispatch --from TIME [--to TIME] [--account ID] [--dry-run]
                 dispatches again the events written from --from to --to (RFC 3339, both
                 included; --to defaults to now, --from at most 30 days ago): each to the
                 bus with its original id, and to the webhooks that take it (a delivery
                 already made is not sent again); --dry-run only counts them
  provision      create the tables and the versioned bucket (emulators only)

anexo-admin works on the table directly with AWS credentials. It reads TABLE_NAME,
KEYS_TABLE_NAME, BUCKET_NAME, AWS_REGION, DYNAMODB_ENDPOINT and S3_ENDPOINT (empty endpoints
mean AWS), overridable with --table, --keys-table, --bucket, --region, --dynamodb-endpoint,
--s3-endpoint; events redispatch also EVENT_BUS_NAME, DELIVERY_QUEUE_URL, EVENTS_ENDPOINT and
SQS_ENDPOINT (the stack's outputs EventBusName and DeliveriesQueueUrl), or --bus, --queue-url,
--events-endpoint, --sqs-endpoint.
`

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

type flags struct {
	name, account, scopes, origin string
	purpose                       string
	quota                         int64
	ttl                           time.Duration
	json, retire, dryRun          bool
	from, to                      string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd := args[0]
	if len(args) > 1 && (cmd == "account" || cmd == "token" || cmd == "keys" || cmd == "events") {
		cmd += " " + args[1]
		args = args[1:]
	}
	cfg := app.FromEnv()
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Table, "table", cfg.Table, "DynamoDB table")
	fs.StringVar(&cfg.KeysTable, "keys-table", "", "signing keys' table (default: the table's name with -keys)")
	fs.StringVar(&cfg.Bucket, "bucket", cfg.Bucket, "S3 bucket")
	fs.StringVar(&cfg.Region, "region", cfg.Region, "AWS region")
	fs.StringVar(&cfg.DynamoEndpoint, "dynamodb-endpoint", cfg.DynamoEndpoint, "DynamoDB endpoint URL (empty: AWS)")
	fs.StringVar(&cfg.S3Endpoint, "s3-endpoint", cfg.S3Endpoint, "S3 endpoint URL (empty: AWS)")
	var f flags
	fs.StringVar(&f.name, "name", "", "account or token display name")
	fs.Int64Var(&f.quota, "quota", 0, "account quota in bytes (0: unlimited)")
	fs.StringVar(&f.account, "account", "", "account id")
	fs.StringVar(&f.scopes, "scopes", "files:read,files:write", "token scopes")
	fs.StringVar(&f.origin, "allowed-domain", "", "web origin the token is restricted to (https://crm.example.com, https://*.example.com)")
	fs.DurationVar(&f.ttl, "ttl", 0, "token lifetime (0: no expiry)")
	fs.BoolVar(&f.json, "json", false, "print JSON")
	fs.StringVar(&f.purpose, "purpose", "", "keys: cursor, ticket or events (default: all three)")
	fs.BoolVar(&f.retire, "retire", false, "keys rotate: end the earlier keys at once")
	fs.StringVar(&f.from, "from", "", "events redispatch: the window's start (RFC 3339)")
	fs.StringVar(&f.to, "to", "", "events redispatch: the window's end (RFC 3339; default now)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "events redispatch: count, do not dispatch")
	fs.StringVar(&cfg.BusName, "bus", cfg.BusName, "EventBridge bus")
	fs.StringVar(&cfg.QueueURL, "queue-url", cfg.QueueURL, "webhook deliveries' SQS queue URL")
	fs.StringVar(&cfg.EventsEndpoint, "events-endpoint", cfg.EventsEndpoint, "EventBridge endpoint URL (empty: AWS)")
	fs.StringVar(&cfg.SQSEndpoint, "sqs-endpoint", cfg.SQSEndpoint, "SQS endpoint URL (empty: AWS)")
	if err := cmdline.ParseAnywhere(fs, args[1:]); err != nil {
		return exitUsage
	}
	commands := map[string]func(context.Context, *app.Deps, flags, []string, io.Writer, io.Writer) error{
		"account create": accountCreate, "account list": accountList, "account show": accountShow,
		"token create": tokenCreate, "provision": provision, "keys list": keysList, "keys rotate": keysRotate,
		"events redispatch": eventsRedispatch,
	}
	do, ok := commands[cmd]
	if !ok || (cmd == "account show") != (fs.NArg() == 1) || cmd != "account show" && fs.NArg() != 0 {
		fmt.Fprintf(stderr, "anexo-admin: unknown command or arguments %q\n\n%s", cmd, usage)
		return exitUsage
	}
	cfg.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := awsconfig.App(ctx, cfg)
	if err == nil {
		err = do(ctx, d, f, fs.Args(), stdout, stderr)
	}
	if err != nil {
		if e, ok := apperr.As(err); ok {
			fmt.Fprintf(stderr, "anexo-admin: %s\n", e.Detail)
		} else {
			fmt.Fprintf(stderr, "anexo-admin: %v\n", err)
		}
		return exitFailed
	}
	return exitOK
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func accountCreate(ctx context.Context, d *app.Deps, f flags, _ []string, stdout, stderr io.Writer) error {
	a, err := d.Auth().CreateAccount(ctx, f.name, f.quota)
	if err != nil {
		return err
	}
	secret, t, err := d.Auth().CreateToken(ctx, a.ID, auth.NewToken{Name: "admin", Scopes: auth.AllScopes, CreatedBy: "anexo-admin"})
	if err != nil {
		return fmt.Errorf("account %s created, but its admin token was not: %w (mint one with token create)", a.ID, err)
	}
	if f.json {
		return printJSON(stdout, map[string]any{"account_id": a.ID, "name": a.Name, "token_id": t.ID, "secret": secret})
	}
	fmt.Fprintln(stdout, secret)
	fmt.Fprintf(stderr, "account %s %q created; admin token %s (all scopes) printed above, once: "+
		"manage the account's tokens with it (anexo token create|list|rotate|revoke)\n", a.ID, a.Name, t.ID)
	return nil
}

func accountList(ctx context.Context, d *app.Deps, f flags, _ []string, stdout, _ io.Writer) error {
	as, err := d.Auth().ListAccounts(ctx)
	if err != nil || f.json {
		if err == nil {
			err = printJSON(stdout, as)
		}
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", a.ID, a.Name, a.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func accountShow(ctx context.Context, d *app.Deps, f flags, args []string, stdout, _ io.Writer) error {
	a, err := d.Auth().Store.GetAccount(ctx, args[0])
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return apperr.New(apperr.KindNotFound, "account_not_found", "no account "+args[0])
		}
		return err
	}
	u, err := d.Store().Usage(ctx, a.ID)
	if err != nil {
		return err
	}
	// an operator sees what the account's admins see
	ts, err := d.Auth().AccountTokens(ctx, a.ID)
	if err != nil {
		return err
	}
	now := time.Now()
	if f.json {
		views := make([]httpapi.TokenView, len(ts))
		for i, t := range ts {
			views[i] = httpapi.ViewToken(t, now)
		}
		return printJSON(stdout, map[string]any{"account": a, "usage": u, "tokens": views})
	}
	quota := "unlimited"
	if a.QuotaBytes > 0 {
		quota = fmt.Sprint(a.QuotaBytes)
	}
	fmt.Fprintf(stdout, "account %s %q, created %s\nused %d bytes (%d trashed), quota %s, %d files, %d versions\n\n",
		a.ID, a.Name, a.CreatedAt.Format(time.RFC3339), u.UsedBytes, u.TrashedBytes, quota, u.FileCount, u.VersionCount)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN\tNAME\tSCOPES\tSTATUS\tLAST USED")
	for _, t := range ts {
		last := "never"
		if !t.LastUsedAt.IsZero() {
			last = t.LastUsedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", t.ID, t.Name, t.Scopes, t.Status(now), last)
	}
	return tw.Flush()
}

func tokenCreate(ctx context.Context, d *app.Deps, f flags, _ []string, stdout, stderr io.Writer) error {
	sc, err := auth.ParseScopes(f.scopes)
	if err != nil {
		return err
	}
	secret, t, err := d.Auth().CreateToken(ctx, f.account, auth.NewToken{Name: f.name, Scopes: sc, AllowedDomain: f.origin, TTL: f.ttl, CreatedBy: "anexo-admin"})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	exp := "never"
	if !t.ExpiresAt.IsZero() {
		exp = t.ExpiresAt.Format(time.RFC3339)
	}
	fmt.Fprintf(stderr, "token %s for account %s, scopes %s, expires %s (shown once; only its hash is stored)\n", t.ID, t.AccountID, f.scopes, exp)
	return nil
}

func provision(ctx context.Context, d *app.Deps, _ flags, _ []string, stdout, _ io.Writer) error {
	if err := d.Provision(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "table %s and bucket %s ready\n", d.Cfg.Table, d.Cfg.Bucket)
	return nil
}

// purposes are the keyrings keys commands act on.
func purposes(f flags) ([]string, error) {
	switch f.purpose {
	case "":
		return []string{app.CursorKeys, app.TicketKeys, app.EventKeys}, nil
	case app.CursorKeys, app.TicketKeys, app.EventKeys:
		return []string{f.purpose}, nil
	}
	return nil, apperr.Invalid("purpose", "must be cursor, ticket or events")
}

func keysList(ctx context.Context, d *app.Deps, f flags, _ []string, stdout, _ io.Writer) error {
	ps, err := purposes(f)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PURPOSE\tKEY\tCREATED\tVERIFIES UNTIL")
	for _, p := range ps {
		ks, err := d.Keys().Keys(ctx, p)
		if err != nil {
			return err
		}
		for _, k := range ks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p, k.ID, k.CreatedAt.Format(time.RFC3339), k.VerifyUntil.Format(time.RFC3339))
		}
	}
	return tw.Flush()
}

func keysRotate(ctx context.Context, d *app.Deps, f flags, _ []string, stdout, _ io.Writer) error {
	ps, err := purposes(f)
	if err != nil {
		return err
	}
	for _, p := range ps {
		k, err := d.Ring(p).Rotate(ctx, f.retire)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\t%s\tsigns from now; earlier keys %s\n", p, k.ID, map[bool]string{true: "retired", false: "verify until they expire"}[f.retire])
	}
	return nil
}

// eventsRedispatch dispatches again the events of a window (every
// account's, or one's) and prints what it did per account.
func eventsRedispatch(ctx context.Context, d *app.Deps, f flags, _ []string, stdout, stderr io.Writer) error {
	now := time.Now()
	w := dispatch.Window{To: now, DryRun: f.dryRun}
	var err error
	if f.from != "" {
		if w.From, err = time.Parse(time.RFC3339, f.from); err != nil {
			return apperr.Invalid("from", "must be an RFC 3339 time (2026-12-01T10:00:00Z)")
		}
	}
	if f.to != "" {
		if w.To, err = time.Parse(time.RFC3339, f.to); err != nil {
			return apperr.Invalid("to", "must be an RFC 3339 time (2026-12-01T11:00:00Z)")
		}
	}
	if err := w.Check(now); err != nil {
		return err
	}
	if !f.dryRun && (d.Cfg.QueueURL == "" || d.Cfg.BusName == "") {
		return apperr.Invalid("queue-url", "the deliveries queue's URL and the bus are required (DELIVERY_QUEUE_URL, EVENT_BUS_NAME: the stack's outputs)")
	}
	if f.account != "" {
		w.Accounts = []string{f.account}
	} else {
		as, err := d.Auth().ListAccounts(ctx)
		if err != nil {
			return err
		}
		for _, a := range as {
			w.Accounts = append(w.Accounts, a.ID)
		}
	}
	verb := map[bool]string{true: "would dispatch", false: "dispatched"}[f.dryRun]
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tRECORDS\tEVENTS\tDELIVERIES")
	total, err := d.Dispatch().Replay(ctx, d.Store(), w, func(account string, st dispatch.Stats) {
		if st.Records > 0 {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", account, st.Records, st.Events, st.Deliveries)
		}
	})
	if ferr := tw.Flush(); err == nil {
		err = ferr
	}
	fmt.Fprintf(stderr, "%s %d records (%d events, %d deliveries) of %d accounts, %s to %s\n", verb, total.Done, total.Events, total.Deliveries,
		len(w.Accounts), w.From.Format(time.RFC3339), w.To.Format(time.RFC3339))
	return err
}
