package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/anexo/anexo/shared/base/cmdline"
	"github.com/anexo/anexo/shared/client"
)

// More exit codes of the API commands.
const (
	exitPartial = 3 // some items of a batch failed
	exitAuth    = 4 // 401/403: token missing, unknown, expired or lacking a scope
)

// apiCommands run against an Anexo endpoint with a token.
var apiCommands = map[string]func(ctx context.Context, c *client.Client, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int{
	"upload":   cmdUpload,
	"download": cmdDownload,
	"ls":       cmdList,
	"rm":       cmdRemove,
	"restore":  cmdRestore,
	"attach":   cmdAttach,
	"detach":   cmdAttach,
	"entity":   cmdEntity,
	"token":    cmdToken,
	"events":   cmdEvents,
	"webhooks": cmdWebhooks,
	"request":  cmdRequest,
}

// runAPI parses the common flags and runs an API command.
func runAPI(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &client.Client{UserAgent: "anexo-cli"}
	fs.StringVar(&c.Endpoint, "endpoint", os.Getenv("ANEXO_URL"), "API endpoint (env ANEXO_URL)")
	fs.StringVar(&c.Token, "token", os.Getenv("ANEXO_TOKEN"), "API token (env ANEXO_TOKEN)")
	return apiCommands[name](ctx, c, fs, args, stdout, stderr)
}

func parse(fs *flag.FlagSet, c *client.Client, args []string, stderr io.Writer) bool {
	if err := cmdline.ParseAnywhere(fs, args); err != nil {
		return false
	}
	if c.Endpoint == "" || c.Token == "" {
		fmt.Fprintf(stderr, "anexo %s: set --endpoint and --token (or ANEXO_URL and ANEXO_TOKEN)\n", fs.Name())
		return false
	}
	return true
}

// apiFail prints an error and chooses the exit code.
func apiFail(stderr io.Writer, what string, err error) int {
	var p *client.Problem
	if errors.As(err, &p) {
		msg := p.Detail
		if p.Field != "" {
			msg += " (field " + p.Field + ")"
		}
		fmt.Fprintf(stderr, "anexo: %s: %d %s: %s\n", what, p.Status, p.Code, msg)
		if p.Status == 401 || p.Status == 403 {
			return exitAuth
		}
		return exitFailed
	}
	fmt.Fprintf(stderr, "anexo: %s: %v\n", what, err)
	return exitFailed
}

// entityFlag parses --entity TYPE/ID.
func entityFlag(s string) (string, string, error) {
	t, id, ok := strings.Cut(s, "/")
	if !ok || t == "" || id == "" {
		return "", "", fmt.Errorf("--entity must be TYPE/ID, like lead/4521 or deal/3c90c3cc-…")
	}
	return t, id, nil
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func cmdUpload(ctx context.Context, c *client.Client, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	var o client.UploadOptions
	var attach multi
	fs.IntVar(&o.Parallel, "parallel", 4, "parts uploaded at once")
	fs.StringVar(&o.Name, "name", "", "file name to record (one file only; default: the file's base name)")
	fs.StringVar(&o.ContentType, "type", "", "media type (default: from the name)")
	fs.StringVar(&o.FileUUID, "version-of", "", "upload as a new version of this file uuid (one file only)")
	fs.Var(&attach, "attach", "attach at completion to TYPE/ID (repeatable)")
	fs.BoolVar(&o.NoChecksum, "no-checksum", false, "skip the whole-file CRC32C that S3 verifies")
	fs.StringVar(&o.StateDir, "state-dir", client.DefaultStateDir(), "where uploads are remembered (interrupted ones resume, finished ones are answered again)")
	fs.BoolVar(&o.New, "new", false, "upload again a file already uploaded from here (by default the same command answers the same file)")
	quiet := fs.Bool("quiet", false, "no progress")
	asJSON := fs.Bool("json", false, "print each file as JSON")
	if !parse(fs, c, args, stderr) {
		return exitUsage
	}
	paths := fs.Args()
	if len(paths) == 0 || len(paths) > 1 && (o.Name != "" || o.FileUUID != "") {
		fmt.Fprintln(stderr, "usage: anexo upload [flags] FILE... (--name and --version-of take one file)")
		return exitUsage
	}
	for _, a := range attach {
		t, id, err := entityFlag(a)
		if err != nil {
			fmt.Fprintln(stderr, "anexo upload:", err)
			return exitUsage
		}
		o.Attach = append(o.Attach, client.AttachTo{EntityType: t, EntityID: id})
	}
	code := exitOK
	for _, p := range paths {
		var b *bar
		if !*quiet {
			b = newBar(stderr, filepath.Base(p))
			o.Progress = b.update
		}
		start := time.Now()
		f, err := c.Upload(ctx, p, o)
		if b != nil {
			b.done()
		}
		if err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(stderr, "anexo: interrupted; run the same command again to resume")
				return exitInterrupted
			}
			code = apiFail(stderr, "upload "+p, err)
			continue
		}
		if *asJSON {
			_ = json.NewEncoder(stdout).Encode(f)
		} else {
			fmt.Fprintf(stdout, "%s\t%d\t%s\t%s\n", f.UUID, f.ID, human(f.Size), f.Name)
		}
		if !*quiet {
			secs := time.Since(start).Seconds()
			fmt.Fprintf(stderr, "%s: %s in %.1fs (%s/s)\n", p, human(f.Size), secs, human(int64(float64(f.Size)/max(secs, 0.001))))
		}
	}
	return code
}

func cmdDownload(ctx context.Context, c *client.Client, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	out := fs.String("o", "", "output path (default: the file's name, in this directory)")
	version := fs.String("version", "", "a version uuid (default: the main version)")
	quiet := fs.Bool("quiet", false, "no progress")
	preview := fs.Int("preview", 0, "save its preview of this size instead (64, 256 or 1024 px)")
	if !parse(fs, c, args, stderr) {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: anexo download [-o PATH] [--version UUID] [--preview SIZE] FILE_UUID")
		return exitUsage
	}
	uuid := fs.Arg(0)
	if *preview != 0 {
		return downloadPreview(ctx, c, uuid, *version, *preview, *out, stdout, stderr)
	}
	dst := *out
	if dst == "" {
		f, err := c.Get(ctx, uuid)
		if err != nil {
			return apiFail(stderr, "download", err)
		}
		dst = filepath.Base(f.Name)
	}
	var progress func(client.Progress)
	var b *bar
	if !*quiet {
		b = newBar(stderr, filepath.Base(dst))
		progress = b.update
	}
	n, err := c.Download(ctx, uuid, *version, dst, progress)
	if b != nil {
		b.done()
	}
	if err != nil {
		return apiFail(stderr, "download", err)
	}
	fmt.Fprintf(stdout, "%s\t%s\n", dst, human(n))
	return exitOK
}

// downloadPreview saves a version's preview of one size (default path:
// the file's name with -SIZE.jpg).
func downloadPreview(ctx context.Context, c *client.Client, uuid, version string, size int, dst string, stdout, stderr io.Writer) int {
	p, body, err := c.Preview(ctx, uuid, version, size)
	if errors.Is(err, client.ErrNoPreview) {
		fmt.Fprintf(stderr, "anexo download: file %s has no %d px preview (previews follow the upload and its malware scan; formats without them have none)\n", uuid, size)
		return exitFailed
	}
	if err != nil {
		return apiFail(stderr, "download", err)
	}
	if dst == "" {
		f, err := c.Get(ctx, uuid)
		if err != nil {
			return apiFail(stderr, "download", err)
		}
		base := filepath.Base(f.Name)
		dst = strings.TrimSuffix(base, filepath.Ext(base)) + "-" + strconv.Itoa(size) + ".jpg"
	}
	if err := os.WriteFile(dst, body, 0o644); err != nil {
		fmt.Fprintf(stderr, "anexo download: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s\t%d × %d\t%s\n", dst, p.Width, p.Height, human(int64(len(body))))
	return exitOK
}

func cmdList(ctx context.Context, c *client.Client, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	var raw multi
	fs.Var(&raw, "q", "a raw query parameter, like 'filter[size][from]=1048576' (repeatable)")
	name := fs.String("name", "", "exact name")
	term := fs.String("term", "", "part of the name")
	ext := fs.String("ext", "", "extensions, comma-separated")
	trash := fs.Bool("trash", false, "list the trash")
	entity := fs.String("entity", "", "files attached to TYPE/ID")
	scan := fs.String("scan", "", "malware scan statuses, comma-separated (pending, clean, infected, unsupported, failed, off)")
	asc := fs.Bool("asc", false, "oldest first")
	limit := fs.Int("limit", 50, "files per page (1-250)")
	all := fs.Bool("all", false, "every page")
	asJSON := fs.Bool("json", false, "JSON lines")
	if !parse(fs, c, args, stderr) {
		return exitUsage
	}
	q := url.Values{}
	for _, kv := range raw {
		k, v, _ := strings.Cut(kv, "=")
		q.Add(k, v)
	}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("filter[name]", *name)
	set("filter[term]", *term)
	set("filter[extensions]", *ext)
	set("filter[scan]", *scan)
	if *trash {
		q.Set("filter[deleted]", "true")
	}
	if *entity != "" {
		t, id, err := entityFlag(*entity)
		if err != nil {
			fmt.Fprintln(stderr, "anexo ls:", err)
			return exitUsage
		}
		q.Set("filter[entity][type]", t)
		q.Set("filter[entity][id]", id)
	}
	if *asc {
		q.Set("order[created_at]", "asc")
	}
	q.Set("limit", fmt.Sprint(*limit))
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, "UUID\tID\tSIZE\tCREATED\tSCAN\tNAME")
	}
	cursor := ""
	for {
		page, err := c.List(ctx, q, cursor)
		if err != nil {
			return apiFail(stderr, "ls", err)
		}
		for _, f := range page.Files {
			if *asJSON {
				_ = json.NewEncoder(stdout).Encode(f)
			} else {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", f.UUID, f.ID, human(f.Size), f.CreatedAt.Format(time.RFC3339), f.Scan.Status, f.Name)
			}
		}
		if page.Next == "" || !*all {
			break
		}
		cursor = page.Next
	}
	_ = tw.Flush()
	return exitOK
}

// report prints per-item results and picks the exit code.
func report(stdout, stderr io.Writer, what string, res []client.ItemResult) int {
	code := exitOK
	for _, r := range res {
		if r.Error != nil {
			fmt.Fprintf(stderr, "anexo: %s %s: %d %s: %s\n", what, r.UUID, r.Error.Status, r.Error.Code, r.Error.Detail)
			code = exitPartial
			continue
		}
		fmt.Fprintf(stdout, "%s\t%s\n", r.UUID, r.Status)
	}
	return code
}

func batch(ctx context.Context, c *client.Client, fs *flag.FlagSet, args []string, stdout, stderr io.Writer, steps ...[2]string) int {
	if !parse(fs, c, args, stderr) {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "usage: anexo %s FILE_UUID...\n", fs.Name())
		return exitUsage
	}
	code := exitOK
	for _, st := range steps {
		res, err := c.Batch(ctx, st[0], st[1], fs.Args())
		if err != nil {
			return apiFail(stderr, fs.Name(), err)
		}
		if code = report(stdout, stderr, fs.Name(), res); code != exitOK {
			return code
		}
	}
	return code
}

func cmdRemove(ctx context.Context, c *client.Client, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	forever := fs.Bool("forever", false, "delete forever (trash, then purge)")
	steps := [][2]string{{"DELETE", "/v1/files"}}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *forever {
		steps = append(steps, [2]string{"POST", "/v1/files/purge"})
	}
	return batch(ctx, c, fs, fs.Args(), stdout, stderr, steps...)
}

func cmdRestore(ctx context.Context, c *client.Client, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	return batch(ctx, c, fs, args, stdout, stderr, [2]string{"POST", "/v1/files/restore"})
}

func cmdAttach(ctx context.Context, c *client.Client, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	entity := fs.String("entity", "", "TYPE/ID: lead/4521, deal/<uuid>, …")
	kind := fs.String("kind", "", "media (default), note or field")
	note := fs.String("note-id", "", "note id (kind note)")
	field := fs.String("field-id", "", "field id (kind field)")
	version := fs.String("version", "", "pinned version uuid (kind field)")
	if !parse(fs, c, args, stderr) {
		return exitUsage
	}
	t, id, err := entityFlag(*entity)
	if err != nil || fs.NArg() == 0 {
		fmt.Fprintf(stderr, "usage: anexo %s --entity TYPE/ID [--kind K] FILE_UUID...\n", fs.Name())
		return exitUsage
	}
	specs := make([]client.AttachSpec, fs.NArg())
	for i, u := range fs.Args() {
		specs[i] = client.AttachSpec{FileUUID: u, Kind: *kind, NoteID: *note, FieldID: *field, VersionUUID: *version}
	}
	method := "POST"
	if fs.Name() == "detach" {
		method = "DELETE"
	}
	res, err := c.Attach(ctx, method, t, id, specs)
	if err != nil {
		return apiFail(stderr, fs.Name(), err)
	}
	return report(stdout, stderr, fs.Name(), res)
}

// cmdEntity creates or updates a CRM entity in the account's directory
// (PUT /v1/entities/{type}/{id}), so files can be attached to it.
func cmdEntity(ctx context.Context, c *client.Client, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	title := fs.String("title", "", "the entity's title")
	if !parse(fs, c, args, stderr) {
		return exitUsage
	}
	t, id, err := entityFlag(fs.Arg(0))
	if err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: anexo entity TYPE/ID [--title T]   (ID: the entity's uuid or numeric code)")
		return exitUsage
	}
	body := map[string]any{}
	if *title != "" {
		body["title"] = *title
	}
	var out struct {
		UUID  string `json:"uuid"`
		Code  int64  `json:"code"`
		Title string `json:"title"`
	}
	if _, err := c.Do(ctx, "PUT", "/v1/entities/"+url.PathEscape(t)+"/"+url.PathEscape(id), body, &out); err != nil {
		return apiFail(stderr, "entity", err)
	}
	fmt.Fprintf(stdout, "%s\t%s\t%d\t%s\n", t, out.UUID, out.Code, out.Title)
	return exitOK
}
