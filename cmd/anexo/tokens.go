package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/anexo/anexo/shared/client"
)

const tokenUsage = `usage: anexo token list [--json]
       anexo token create --name N [--scopes files:read,files:write] [--allowed-domain ORIGIN] [--ttl DURATION]
       anexo token rotate ID [--grace 24h]
       anexo token revoke ID`

// cmdToken manages the account's tokens through the API (tokens:admin).
func cmdToken(ctx context.Context, c *client.Client, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	name := fs.String("name", "", "token display name (create)")
	scopes := fs.String("scopes", "files:read,files:write", "scopes, comma-separated (create)")
	origin := fs.String("allowed-domain", "", "web origin the token is restricted to, e.g. https://crm.example.com (create)")
	ttl := fs.Duration("ttl", 0, "lifetime, e.g. 8760h (create; 0: no expiry)")
	grace := fs.Duration("grace", 24*time.Hour, "how long the current secret stays valid (rotate; 0: ends now)")
	asJSON := fs.Bool("json", false, "print JSON (list)")
	if !parse(fs, c, args, stderr) {
		return exitUsage
	}
	sub, rest := fs.Arg(0), fs.Args()
	if len(rest) > 0 {
		rest = rest[1:]
	}
	withID := sub == "rotate" || sub == "revoke"
	if withID != (len(rest) == 1) || !withID && len(rest) != 0 {
		fmt.Fprintln(stderr, tokenUsage)
		return exitUsage
	}
	switch sub {
	case "list":
		ts, err := c.Tokens(ctx)
		if err != nil {
			return apiFail(stderr, "token list", err)
		}
		if *asJSON {
			return printJSON(stdout, ts)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tSTATUS\tLAST USED\tEXPIRES")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, strings.Join(t.Scopes, ","), t.Status, when(t.LastUsedAt, "never"), when(t.ExpiresAt, "never"))
		}
		_ = tw.Flush()
	case "create":
		in := client.NewToken{Name: *name, Scopes: strings.Split(*scopes, ","), AllowedDomain: *origin, TTLSeconds: int64(*ttl / time.Second)}
		t, secret, err := c.CreateToken(ctx, in)
		if err != nil {
			return apiFail(stderr, "token create", err)
		}
		fmt.Fprintln(stdout, secret)
		fmt.Fprintf(stderr, "token %s %q, scopes %s, expires %s (the secret is shown once)\n", t.ID, t.Name, strings.Join(t.Scopes, ","), when(t.ExpiresAt, "never"))
	case "rotate":
		t, secret, err := c.RotateToken(ctx, rest[0], *grace)
		if err != nil {
			return apiFail(stderr, "token rotate", err)
		}
		fmt.Fprintln(stdout, secret)
		until := "no longer"
		if n := len(t.PreviousSecrets); n > 0 {
			until = "until " + t.PreviousSecrets[n-1].ValidUntil.Format(time.RFC3339)
		}
		fmt.Fprintf(stderr, "token %s has a new secret (shown once); the one before stays valid %s\n", t.ID, until)
	case "revoke":
		t, err := c.RevokeToken(ctx, rest[0])
		if err != nil {
			return apiFail(stderr, "token revoke", err)
		}
		fmt.Fprintf(stdout, "%s\trevoked\t%s\n", t.ID, when(t.RevokedAt, ""))
	default:
		fmt.Fprintln(stderr, tokenUsage)
		return exitUsage
	}
	return exitOK
}

func when(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return exitFailed
	}
	return exitOK
}
