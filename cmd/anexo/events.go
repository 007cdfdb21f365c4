package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/anexo/anexo/shared/client"
)

const eventsUsage = `usage: anexo events tail [--type file.created,file.trashed] [--since 1h | --from-start | --after CURSOR]
                        [--once] [--interval 5s] [--json]`

// cmdEvents follows the account's event feed (files:read): one line per
// event as it is served (30 s after it happened), until interrupted or,
// with --once, until the feed has nothing more. It ends by printing the
// cursor to resume from on stderr.
func cmdEvents(ctx context.Context, c *client.Client, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	types := fs.String("type", "", "event types, comma-separated (default: all)")
	since := fs.Duration("since", 0, "start with the events of this last while (default: new events only)")
	fromStart := fs.Bool("from-start", false, "start with the oldest event kept (30 days)")
	after := fs.String("after", "", "resume after this cursor (printed when tail ends)")
	once := fs.Bool("once", false, "print what the feed has and exit")
	interval := fs.Duration("interval", 5*time.Second, "how often to poll when the feed is caught up")
	asJSON := fs.Bool("json", false, "print each event as a JSON line")
	if !parse(fs, c, args, stderr) {
		return exitUsage
	}
	if fs.Arg(0) != "tail" || fs.NArg() != 1 || *interval <= 0 {
		fmt.Fprintln(stderr, eventsUsage)
		return exitUsage
	}
	q := client.EventsQuery{After: *after, Limit: 500}
	if *types != "" {
		q.Types = strings.Split(*types, ",")
	}
	switch {
	case *after != "":
	case *fromStart:
	case *since > 0:
		q.Since = time.Now().Add(-*since)
	default:
		q.Since = time.Now()
	}
	enc := json.NewEncoder(stdout)
	for {
		evs, next, err := c.Events(ctx, q)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			return apiFail(stderr, "events tail", err)
		}
		for _, e := range evs {
			if *asJSON {
				_ = enc.Encode(e)
			} else {
				fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Type, e.ID, summary(e))
			}
		}
		q.After, q.Since = next, time.Time{}
		if len(evs) == q.Limit {
			continue // more is there now
		}
		if *once {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(*interval):
		}
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Fprintf(stderr, "resume with: anexo events tail --after %s\n", q.After)
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return exitOK
}

// summary names what an event is about: the file (uuid and name), the
// entity, the batch or the session.
func summary(e client.Event) string {
	var d struct {
		File *struct {
			UUID string `json:"uuid"`
			Name string `json:"name"`
		} `json:"file"`
		FileUUID string `json:"file_uuid"`
		FileName string `json:"file_name"`
		ID       string `json:"id"`
		Entity   *struct {
			Type string `json:"type"`
			UUID string `json:"uuid"`
		} `json:"entity"`
	}
	_ = json.Unmarshal(e.Data, &d)
	var parts []string
	switch {
	case d.File != nil:
		parts = append(parts, d.File.UUID, d.File.Name)
	case d.FileUUID != "":
		parts = append(parts, d.FileUUID, d.FileName)
	}
	if d.ID != "" && d.File == nil {
		parts = append(parts, d.ID)
	}
	if d.Entity != nil {
		parts = append(parts, d.Entity.Type+"/"+d.Entity.UUID)
	}
	return strings.Join(parts, "\t")
}
