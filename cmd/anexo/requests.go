package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/anexo/anexo/shared/client"
)

const requestUsage = `usage: anexo request create --entity TYPE/ID --slot NAME[=.pdf,image/*]... [--optional NAME[=…]]...
                              [--title T] [--message M] [--expires 7d] [--passcode P] [--max-files N] [--json]
       anexo request ls [--status open|fulfilled|expired|revoked] [--json]
       anexo request show ID [--json]
       anexo request link ID      a new link (the old one stops working)
       anexo request revoke ID`

// cmdRequest manages the account's file requests (requests:admin).
func cmdRequest(ctx context.Context, c *client.Client, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	var slots, optional multi
	entity := fs.String("entity", "", "the entity the request fills: TYPE/ID (create)")
	fs.Var(&slots, "slot", "a required document: NAME, or NAME=accepted types (.pdf,image/*) (create; repeatable)")
	fs.Var(&optional, "optional", "an optional document, as --slot (create; repeatable)")
	title := fs.String("title", "", "what the person is asked for (create; default: the slots' names)")
	message := fs.String("message", "", "a message shown on the request's page (create)")
	expires := fs.String("expires", "7d", "how long the link works: 1h to 90d, e.g. 36h, 7d (create)")
	passcode := fs.String("passcode", "", "a passcode the link asks for (create)")
	maxFiles := fs.Int("max-files", 0, "files it takes in all (create; default: the slots', or 10 without slots)")
	status := fs.String("status", "", "only requests in this status (ls)")
	asJSON := fs.Bool("json", false, "print JSON")
	if !parse(fs, c, args, stderr) {
		return exitUsage
	}
	sub, rest := fs.Arg(0), fs.Args()
	if len(rest) > 0 {
		rest = rest[1:]
	}
	if want, ok := map[string]int{"create": 0, "ls": 0, "show": 1, "link": 1, "revoke": 1}[sub]; !ok || want != len(rest) {
		fmt.Fprintln(stderr, requestUsage)
		return exitUsage
	}
	switch sub {
	case "create":
		typ, id, err := entityFlag(*entity)
		ttl, derr := days(*expires)
		if err != nil || derr != nil {
			fmt.Fprintf(stderr, "anexo request create: %v\n", cmp.Or(err, derr))
			return exitUsage
		}
		in := client.NewFileRequest{Entity: client.RequestEntity{Type: typ, ID: id}, Title: *title, Message: *message,
			ExpiresIn: int64(ttl / time.Second), Passcode: *passcode, MaxFiles: *maxFiles}
		var names []string
		for _, s := range slots {
			in.Slots = append(in.Slots, slotFlag(s, true))
			names = append(names, in.Slots[len(in.Slots)-1].Name)
		}
		for _, s := range optional {
			in.Slots = append(in.Slots, slotFlag(s, false))
		}
		if in.Title == "" {
			in.Title = strings.Join(names, ", ")
		}
		r, link, err := c.CreateFileRequest(ctx, in)
		if err != nil {
			return apiFail(stderr, "request create", err)
		}
		return printLink(stdout, stderr, r, link, *asJSON)
	case "ls":
		rs, err := c.FileRequests(ctx, *status)
		if err != nil {
			return apiFail(stderr, "request ls", err)
		}
		if *asJSON {
			return printJSON(stdout, rs)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tTITLE\tENTITY\tRECEIVED\tEXPIRES")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%d\t%d\t%s\n", r.ID, r.Status, r.Title, r.Entity.Type, r.Entity.Code, len(r.Received), r.ExpiresAt.UTC().Format(time.RFC3339))
		}
		_ = tw.Flush()
	case "show":
		r, err := c.GetFileRequest(ctx, rest[0])
		if err != nil {
			return apiFail(stderr, "request show", err)
		}
		if *asJSON {
			return printJSON(stdout, r)
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%s/%d\texpires %s\n", r.ID, r.Status, r.Title, r.Entity.Type, r.Entity.Code, r.ExpiresAt.UTC().Format(time.RFC3339))
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SLOT\tFILE\tSIZE\tFROM\tSTATUS\tFILE UUID")
		for _, rc := range r.Received {
			from := strings.TrimSpace(rc.Uploader.Name + " <" + rc.Uploader.Email + ">")
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", cmp.Or(rc.Slot, "-"), rc.Name, rc.Size, strings.TrimSuffix(from, " <>"), rc.Status, rc.FileUUID)
		}
		_ = tw.Flush()
	case "link":
		r, link, err := c.RelinkFileRequest(ctx, rest[0])
		if err != nil {
			return apiFail(stderr, "request link", err)
		}
		return printLink(stdout, stderr, r, link, *asJSON)
	case "revoke":
		r, err := c.RevokeFileRequest(ctx, rest[0])
		if err != nil {
			return apiFail(stderr, "request revoke", err)
		}
		fmt.Fprintf(stdout, "%s\t%s\n", r.ID, r.Status)
	}
	return exitOK
}

// printLink prints a request's id and its link (the page's URL, or the
// secret when the deployment names no page): shown this once.
func printLink(stdout, stderr io.Writer, r client.FileRequest, l client.Link, asJSON bool) int {
	if asJSON {
		return printJSON(stdout, map[string]any{"file_request": r, "link": l})
	}
	fmt.Fprintf(stdout, "%s\t%s\n", r.ID, cmp.Or(l.URL, l.Secret))
	fmt.Fprintf(stderr, "request %s for %s/%d, open until %s: send the link printed (shown once; anexo request link %s makes a new one)\n",
		r.ID, r.Entity.Type, r.Entity.Code, r.ExpiresAt.UTC().Format(time.RFC3339), r.ID)
	return exitOK
}

// slotFlag parses NAME or NAME=.pdf,image/*.
func slotFlag(v string, required bool) client.Slot {
	name, accept, _ := strings.Cut(v, "=")
	s := client.Slot{Name: name, Required: required}
	if accept != "" {
		s.Accept = strings.Split(accept, ",")
	}
	return s
}

// days parses a duration that may count days (7d), as Go's otherwise.
func days(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("--expires %q: a number of days like 7d, or a duration like 36h", v)
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--expires %q: a number of days like 7d, or a duration like 36h", v)
	}
	return d, nil
}
