package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/webhooks"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/testenv"
)

func TestAdminCommands(t *testing.T) {
	be := testenv.Embedded(t)
	c := testenv.Config(be)
	d := testenv.ConnectDynamo(t, c)
	ctx := context.Background()
	common := []string{"--table", c.Table, "--dynamodb-endpoint", be.Dynamo}
	admin := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append(args, common...), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := admin("account", "create", "--name", "Acme", "--quota", "1000")
	if code != 0 {
		t.Fatalf("account create: %d %s", code, errs)
	}
	p, _, err := d.Auth().Authenticate(ctx, "Bearer "+strings.TrimSpace(out))
	if err != nil || !p.Has(auth.ScopeTokens) || !p.Has(auth.ScopeDelete) {
		t.Fatalf("the first token is not an admin token: %+v %v", p, err)
	}
	acct := p.AccountID
	code, out, errs = admin("token", "create", "--account", acct, "--name", "crm", "--scopes", "files:read,files:delete", "--allowed-domain", "*.acme.com")
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errs)
	}
	p, _, err = d.Auth().Authenticate(ctx, "Bearer "+strings.TrimSpace(out))
	if err != nil || p.AccountID != acct || p.Name != "crm" || p.AllowedDomain != "https://*.acme.com" ||
		p.Require(auth.ScopeDelete) != nil || p.Require(auth.ScopeWrite) == nil {
		t.Fatalf("the minted token authenticates as %+v (%v)", p, err)
	}
	if code, out, _ = admin("account", "list", "--json"); code != 0 || !strings.Contains(out, acct) {
		t.Fatalf("account list: %d %s", code, out)
	}
	code, out, _ = admin("account", "show", acct, "--json")
	var shown struct {
		Tokens []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(out), &shown); code != 0 || err != nil || len(shown.Tokens) != 2 || shown.Tokens[0].Status != "active" ||
		strings.Contains(out, "hash") {
		t.Fatalf("account show: %d %s (%v): two active tokens, no hashes", code, out, err)
	}
	if code, out, _ = admin("account", "show", acct); code != 0 || !strings.Contains(out, "crm") || !strings.Contains(out, "quota 1000") {
		t.Fatalf("account show: %d %s", code, out)
	}
	for _, bad := range [][]string{
		{"token", "create", "--account", acct, "--name", "x", "--scopes", "files:admin"},
		{"token", "create", "--account", acct, "--name", "x", "--allowed-domain", "http://acme.com"},
		{"token", "create", "--account", "3c90c3cc-0d44-4b50-8888-8dd25736052a", "--name", "x"},
		{"account", "create", "--name", ""},
		{"account", "create", "--name", "x", "--quota", "-1"},
		{"account", "show", "3c90c3cc-0d44-4b50-8888-8dd25736052a"},
	} {
		if code, _, errs := admin(bad...); code != 1 || errs == "" {
			t.Fatalf("%v: exit %d, stderr %q", bad, code, errs)
		}
	}
	// signing keys: a rotation with --retire ends the cursors and tickets the earlier keys signed
	ctx2 := context.Background()
	old, err := d.Ring("ticket").Seal(ctx2, "x", []byte("p"))
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errs := admin("keys", "rotate", "--purpose", "ticket", "--retire"); code != 0 || !strings.Contains(out, "retired") {
		t.Fatalf("keys rotate: %d %s %s", code, out, errs)
	}
	if _, err := d.Ring("ticket").Open(ctx2, "x", old); err == nil {
		t.Fatal("a token sealed with a retired key still opens")
	}
	// the event feed's cursors have their keyring too, listed and retired like the others
	if code, out, errs := admin("keys", "rotate", "--purpose", "events", "--retire"); code != 0 || !strings.Contains(out, "events") {
		t.Fatalf("keys rotate --purpose events: %d %s %s", code, out, errs)
	}
	if code, out, _ := admin("keys", "list"); code != 0 || strings.Count(out, "ticket") != 2 || !strings.Contains(out, "events") || strings.Contains(out, "secret") {
		t.Fatalf("keys list: %d %s", code, out)
	}
	if code, _, _ := admin("keys", "rotate", "--purpose", "nope"); code != 1 {
		t.Fatal("an unknown purpose was rotated")
	}
	for _, usage := range [][]string{{"frobnicate"}, {}, {"account", "show"}, {"account", "list", "extra"}} {
		var out, errb bytes.Buffer
		if code := run(ctx, usage, &out, &errb); code != 2 {
			t.Fatalf("%v: exit %d", usage, code)
		}
	}
}

func TestMain(m *testing.M) { testenv.Main(m) }

// repoRoot is resolved before the embedded S3 changes the directory.
var repoRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}()

// TestReadmeAdminBlock runs the README's bootstrap block as written (its
// first line, the export of a placeholder endpoint, replaced by the
// embedded DynamoDB's) and checks the token it exports is an admin token.
func TestReadmeAdminBlock(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n### Accounts and tokens\n")
	_, block, ok := strings.Cut(section, "```sh\n")
	block, _, ok2 := strings.Cut(block, "```\n")
	export, script, ok3 := strings.Cut(block, "\n")
	if !ok || !ok2 || !ok3 || !strings.HasPrefix(export, "export DYNAMODB_ENDPOINT=") || !strings.Contains(script, "anexo-admin account create") {
		t.Fatalf("README: no bootstrap block starting with the export of DYNAMODB_ENDPOINT:\n%s", block)
	}
	be := testenv.Embedded(t)
	c := testenv.Config(be)
	d := testenv.ConnectDynamo(t, c)
	cmd := exec.Command("/bin/sh", "-e", "-c", script+"\nprintf '%s' \"$ANEXO_TOKEN\" >&2")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "DYNAMODB_ENDPOINT="+be.Dynamo, "TABLE_NAME="+c.Table, "AWS_ACCESS_KEY_ID=", "GOFLAGS=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README's bootstrap block failed: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	p, _, err := d.Auth().Authenticate(context.Background(), "Bearer "+lines[len(lines)-1])
	if err != nil || !p.Has(auth.ScopeTokens) || !strings.Contains(stdout.String(), "Acme") {
		t.Fatalf("exported token %q: %+v %v\n%s", lines[len(lines)-1], p, err, stdout.String())
	}
}

// TestEventsRedispatch: the command dispatches again the events of a
// window, every account's or one's: each to the bus with its original id
// and one delivery per webhook that takes it, on the embedded DynamoDB,
// SQS and EventBridge; a dry run sends nothing; a window past the
// outbox's 30 days, a bad time and a missing queue are refused.
func TestEventsRedispatch(t *testing.T) {
	be := testenv.Embedded(t)
	msg, err := devserver.StartMessaging(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = msg.Close() })
	c := testenv.Config(be)
	c.SQSEndpoint, c.EventsEndpoint, c.BusName = msg.URL, msg.URL, testenv.Unique("bus")
	d := testenv.Connect(t, c)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	ids := map[string][]string{} // account → its events' ids in the window
	for _, acct := range []string{"acct-a", "acct-b"} {
		if err := d.Store().PutAccount(ctx, authAccount(acct, now)); err != nil {
			t.Fatal(err)
		}
		if err := d.Store().PutWebhook(ctx, webhooks.Webhook{ID: "all", AccountID: acct, URL: "https://crm.example.com/h", Secret: "whsec_x", Enabled: true}, true); err != nil {
			t.Fatal(err)
		}
		for i := range 3 { // hours ago: 3, 2, 1
			w := webhooks.Webhook{ID: fmt.Sprint("w", i), AccountID: acct, URL: "https://crm.example.com/w", Secret: "whsec_x", Enabled: true,
				Types: []outbox.Type{outbox.FileCreated}}
			if err := d.Store().PutWebhook(ctx, w, true); err != nil {
				t.Fatal(err)
			}
			w.DisabledAt = now.Add(time.Duration(i-3) * time.Hour)
			rec := outbox.NewRecord(acct, w.DisabledAt).Add(outbox.WebhookDisabled, outbox.WebhookData{ID: w.ID})
			if err := d.Store().Disable(ctx, w, rec); err != nil {
				t.Fatal(err)
			}
			if i > 0 {
				ids[acct] = append(ids[acct], rec.Events[0].ID)
			}
		}
	}
	common := []string{"--table", c.Table, "--dynamodb-endpoint", be.Dynamo, "--sqs-endpoint", msg.URL, "--events-endpoint", msg.URL, "--bus", c.BusName}
	admin := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append(args, common...), &out, &errb)
		return code, out.String(), errb.String()
	}
	from := now.Add(-150 * time.Minute).Format(time.RFC3339)
	code, out, errs := admin("events", "redispatch", "--from", from, "--dry-run")
	if code != 0 || !strings.Contains(errs, "would dispatch 4 records (4 events, 4 deliveries) of") || msg.Messages(path.Base(d.Cfg.QueueURL)) != 0 {
		t.Fatalf("dry run: %d %q %q", code, out, errs)
	}
	code, out, errs = admin("events", "redispatch", "--from", from, "--queue-url", d.Cfg.QueueURL, "--account", "acct-b")
	if code != 0 || !strings.Contains(strings.Join(strings.Fields(out), " "), "DELIVERIES acct-b 2 2 2") || !strings.Contains(errs, "dispatched 2 records (2 events, 2 deliveries) of 1 accounts") {
		t.Fatalf("redispatch: %d %q %q", code, out, errs)
	}
	var published []string
	for _, e := range msg.BusEvents(c.BusName) {
		var env struct {
			ID        string `json:"id"`
			AccountID string `json:"account_id"`
		}
		if err := json.Unmarshal([]byte(e.Detail), &env); err != nil || env.AccountID != "acct-b" {
			t.Fatalf("bus entry %+v (%v)", e, err)
		}
		published = append(published, env.ID)
	}
	if strings.Join(published, ",") != strings.Join(ids["acct-b"], ",") || msg.Messages(path.Base(d.Cfg.QueueURL)) != 2 {
		t.Fatalf("published %v, want %v; %d deliveries queued", published, ids["acct-b"], msg.Messages(path.Base(d.Cfg.QueueURL)))
	}
	for _, bad := range [][]string{
		{"events", "redispatch", "--from", now.Add(-31 * 24 * time.Hour).Format(time.RFC3339), "--queue-url", d.Cfg.QueueURL},
		{"events", "redispatch", "--from", "yesterday", "--queue-url", d.Cfg.QueueURL},
		{"events", "redispatch", "--from", from, "--to", now.Add(-3 * time.Hour).Format(time.RFC3339), "--queue-url", d.Cfg.QueueURL},
		{"events", "redispatch", "--from", from},
	} {
		field := map[bool]string{true: "to", false: "from"}[slices.Contains(bad, "--to")]
		if len(bad) == 4 {
			field = "queue-url"
		}
		if code, _, errs := admin(bad...); code != 1 || !strings.HasPrefix(errs, "anexo-admin: "+field+": ") {
			t.Errorf("%v: exit %d, %q", bad, code, errs)
		}
	}
}

func authAccount(id string, at time.Time) auth.Account {
	return auth.Account{ID: id, Name: id, CreatedAt: at}
}
