package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/anexo/anexo/shared/client"
)

const webhooksUsage = `usage: anexo webhooks add URL [--type file.created,file.trashed] [--description D]
       anexo webhooks ls [--json]
       anexo webhooks rm ID
       anexo webhooks test ID`

// cmdWebhooks manages the account's webhooks through the API
// (webhooks:admin).
func cmdWebhooks(ctx context.Context, c *client.Client, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	types := fs.String("type", "", "event types, comma-separated (add; default: every event)")
	desc := fs.String("description", "", "what the endpoint is (add)")
	asJSON := fs.Bool("json", false, "print JSON (ls)")
	if !parse(fs, c, args, stderr) {
		return exitUsage
	}
	sub, rest := fs.Arg(0), fs.Args()
	if len(rest) > 0 {
		rest = rest[1:]
	}
	if want := map[string]int{"add": 1, "ls": 0, "rm": 1, "test": 1}[sub]; want != len(rest) || sub == "" {
		fmt.Fprintln(stderr, webhooksUsage)
		return exitUsage
	}
	switch sub {
	case "add":
		in := client.NewWebhook{URL: rest[0], Description: *desc}
		if *types != "" {
			in.Types = strings.Split(*types, ",")
		}
		w, secret, err := c.CreateWebhook(ctx, in)
		if err != nil {
			return apiFail(stderr, "webhooks add", err)
		}
		fmt.Fprintf(stdout, "%s\t%s\n", w.ID, secret)
		fmt.Fprintf(stderr, "webhook %s posts %s to %s, signed with the secret printed (shown once)\n", w.ID, typesOf(w.Types), w.URL)
	case "ls":
		ws, err := c.Webhooks(ctx)
		if err != nil {
			return apiFail(stderr, "webhooks ls", err)
		}
		if *asJSON {
			return printJSON(stdout, ws)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tURL\tEVENTS\tSTATE\tFAILING SINCE")
		for _, w := range ws {
			state := "enabled"
			if !w.Enabled {
				state = "disabled"
				if w.DisabledReason != nil {
					state += ": " + *w.DisabledReason
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", w.ID, w.URL, typesOf(w.Types), state, when(w.FailingSince, "-"))
		}
		_ = tw.Flush()
	case "rm":
		if err := c.DeleteWebhook(ctx, rest[0]); err != nil {
			return apiFail(stderr, "webhooks rm", err)
		}
		fmt.Fprintf(stdout, "%s\tremoved\n", rest[0])
	case "test":
		d, err := c.TestWebhook(ctx, rest[0])
		if err != nil {
			return apiFail(stderr, "webhooks test", err)
		}
		a := d.Attempts[len(d.Attempts)-1]
		status, why := "no answer", ""
		if a.Status != nil {
			status = fmt.Sprint(*a.Status)
		}
		if a.Error != nil {
			why = "\t" + *a.Error
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%d ms%s\n", d.ID, d.State, status, a.LatencyMS, why)
		if d.State != "delivered" {
			return exitFailed
		}
	}
	return exitOK
}

func typesOf(ts []string) string {
	if len(ts) == 0 {
		return "every event"
	}
	return strings.Join(ts, ",")
}
