package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/anexo/anexo/shared/app"
	"github.com/anexo/anexo/shared/apperr"
	"github.com/anexo/anexo/shared/auth"
)

const usage = `usage: anexo <command> [flags]

file commands (--endpoint/ANEXO_URL, --token/ANEXO_TOKEN):
  upload FILE...        parallel parts, progress, resume on rerun, whole-file CRC32C; the same
                        command answers a file it uploaded [--new] [--parallel N]
                        [--attach TYPE/ID] [--version-of UUID] [--name N] [--json]
  download FILE_UUID    [-o PATH] [--version UUID]; resumes a partial download
  ls                    [--name N] [--term T] [--ext pdf,docx] [--trash] [--entity TYPE/ID]
                        [--asc] [--limit N] [--all] [--json] [-q 'filter[...]=v']
  rm FILE_UUID...       move to the trash [--forever]
  restore FILE_UUID...  restore from the trash
  attach|detach --entity TYPE/ID [--kind media|note|field] [--note-id ID] [--field-id ID] FILE_UUID...
  entity TYPE/ID        create or update a CRM entity (ID: uuid or numeric code) [--title T]

flags may follow arguments; exit codes: 0 ok, 1 failed, 2 usage, 3 some items failed,
4 authentication or scope, 130 interrupted

admin commands (talk to DynamoDB directly):
  account create --name NAME [--quota BYTES]
  token create --account ID --name NAME [--scopes files:read,files:write,files:delete]
               [--allowed-domain HOST] [--ttl DURATION]
  provision    create the table and the versioned bucket (emulators only)

Admin commands read TABLE_NAME, BUCKET_NAME, AWS_REGION, DYNAMODB_ENDPOINT and
S3_ENDPOINT (empty endpoints mean AWS), overridable with --table, --dynamodb-endpoint,
--s3-endpoint, --region.
`

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	// exitInterrupted is the shell's code for a command ended by SIGINT.
	exitInterrupted = 130
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd := args[0]
	if _, ok := apiCommands[cmd]; ok {
		return runAPI(ctx, cmd, args[1:], stdout, stderr)
	}
	if len(args) > 1 && (cmd == "account" || cmd == "token") {
		cmd += " " + args[1]
		args = args[1:]
	}
	cfg := app.FromEnv()
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Table, "table", cfg.Table, "DynamoDB table")
	fs.StringVar(&cfg.Bucket, "bucket", cfg.Bucket, "S3 bucket")
	fs.StringVar(&cfg.Region, "region", cfg.Region, "AWS region")
	fs.StringVar(&cfg.DynamoEndpoint, "dynamodb-endpoint", cfg.DynamoEndpoint, "DynamoDB endpoint URL (empty: AWS)")
	fs.StringVar(&cfg.S3Endpoint, "s3-endpoint", cfg.S3Endpoint, "S3 endpoint URL (empty: AWS)")
	name := fs.String("name", "", "account or token display name")
	quota := fs.Int64("quota", 0, "account quota in bytes (0: unlimited)")
	account := fs.String("account", "", "account id")
	scopes := fs.String("scopes", "files:read,files:write", "token scopes")
	domain := fs.String("allowed-domain", "", "Origin/Referer host the token is restricted to (*.example.com for subdomains)")
	ttl := fs.Duration("ttl", 0, "token lifetime (0: no expiry)")
	if err := parseAnywhere(fs, args[1:]); err != nil {
		return exitUsage
	}
	cfg.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := app.Connect(ctx, cfg)
	if err != nil {
		return fail(stderr, err)
	}
	switch cmd {
	case "account create":
		a, err := d.Auth.CreateAccount(ctx, *name, *quota)
		if err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintln(stdout, a.ID)
	case "token create":
		sc, err := auth.ParseScopes(*scopes)
		if err != nil {
			return fail(stderr, err)
		}
		secret, t, err := d.Auth.CreateToken(ctx, *account, *name, sc, *domain, *ttl)
		if err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintln(stdout, secret)
		exp := "never"
		if !t.ExpiresAt.IsZero() {
			exp = t.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(stderr, "token %s for account %s, scopes %s, expires %s (shown once; only its hash is stored)\n", t.ID, t.AccountID, *scopes, exp)
	case "provision":
		if err := d.Provision(ctx); err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "table %s and bucket %s ready\n", cfg.Table, cfg.Bucket)
	default:
		fmt.Fprintf(stderr, "anexo: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	return exitOK
}

// parseAnywhere parses flags wherever they stand among the arguments
// (`anexo download UUID -o copy.pdf` as well as `anexo download -o copy.pdf
// UUID`); after `--` everything is an argument.
func parseAnywhere(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

func fail(w io.Writer, err error) int {
	if e, ok := apperr.As(err); ok {
		fmt.Fprintf(w, "anexo: %s\n", e.Detail)
	} else {
		fmt.Fprintf(w, "anexo: %v\n", err)
	}
	return exitFailed
}
