package main

import (
	"context"
	"fmt"
	"io"
)

const usage = `usage: anexo <command> [flags]

commands (--endpoint/ANEXO_URL, --token/ANEXO_TOKEN):
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
  token list            the account's tokens [--json]            (these need tokens:admin)
  token create --name N [--scopes files:read,files:write] [--allowed-domain ORIGIN] [--ttl DURATION]
  token rotate ID       new secret; the current one stays valid [--grace 24h]
  token revoke ID       ends every secret of the token and its upload tickets
  events tail           follow the account's events [--type T,T] [--since 1h|--from-start|--after C]
                        [--once] [--json]
  webhooks add URL      register an endpoint; prints its id and secret [--type T,T] [--description D]
  webhooks ls|rm ID|test ID   list, remove, send a test event    (these need webhooks:admin)
  request create --entity TYPE/ID --slot NAME[=.pdf,image/*]... [--optional NAME] [--expires 7d]
                        [--title T] [--message M] [--passcode P]: a link that asks someone for
                        documents; prints its id and link (shown once)
  request ls|show ID|link ID|revoke ID                           (these need requests:admin)

flags may follow arguments; exit codes: 0 ok, 1 failed, 2 usage, 3 some items failed,
4 authentication or scope, 130 interrupted

Accounts are created by operators with anexo-admin (AWS credentials, not a token).
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
	fmt.Fprintf(stderr, "anexo: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}
