// Command anexo-local serves the whole API on localhost (make run): embedded
// DynamoDB and S3 unless DYNAMODB_ENDPOINT / S3_ENDPOINT (or -aws) say
// otherwise, a dev account and token printed with a working example.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/webhooks"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/platform/iam"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	data := flag.String("data", "", "embedded S3 data directory (default: a new temporary directory)")
	useAWS := flag.Bool("aws", false, "use real AWS (default credentials, TABLE_NAME, BUCKET_NAME) instead of emulators")
	scanning := flag.Bool("malware-scanning", true, "scan new versions with GuardDuty's local stand-in (it flags the EICAR test file; embedded S3 only)")
	scanDelay := flag.Duration("scan-delay", time.Second, "how long the stand-in takes to report a scan")
	console := flag.String("console", filepath.Join("clients", "console", "dist"), "the built files console to serve at / (make run builds it)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *data == "" {
		d, err := os.MkdirTemp("", "anexo-local-")
		if err != nil {
			fail(err)
		}
		*data = d
	}
	abs, err := filepath.Abs(*data)
	if err != nil {
		fail(err)
	}
	// absolute before the embedded S3 starts (it changes the working directory)
	if *console, err = filepath.Abs(*console); err != nil {
		fail(err)
	}
	var origins []string // pages besides the console and the Uppy page that may upload to the embedded S3
	for _, o := range strings.Split(os.Getenv("ANEXO_CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	cfg := app.FromEnv()
	cfg.MalwareScanning = cfg.MalwareScanning || *scanning && !*useAWS && cfg.S3Endpoint == "" // the stand-in runs on the embedded S3
	if f := os.Getenv("ANEXO_WEBHOOK_CA_FILE"); f != "" {                                      // receivers with a development CA's certificate
		pem, err := os.ReadFile(f)
		if err == nil {
			cfg.WebhookRoots, err = webhooks.Roots(pem)
		}
		if err != nil {
			fail(fmt.Errorf("ANEXO_WEBHOOK_CA_FILE=%s: %w", f, err))
		}
	}
	srv, err := devserver.Start(ctx, devserver.Options{Addr: *addr, DataDir: abs, UseAWS: *useAWS, Config: cfg, SweepEvery: time.Minute,
		CORSOrigins: origins, ScanDelay: *scanDelay, Console: *console})
	if err != nil {
		fail(err)
	}
	acct, token, err := srv.NewAccount(ctx, "dev", 0, "")
	if err != nil {
		fail(err)
	}
	c := srv.Deps.Cfg
	fmt.Printf(`Anexo is listening on %[1]s
  DynamoDB: %[2]s   S3: %[3]s   SQS and EventBridge: %[7]s   data: %[4]s
  dev account: %[5]s
  dev token (%[9]s):

export ANEXO_URL=%[1]s
export ANEXO_TOKEN=%[6]s

Files console: %[1]s/#token=%[6]s
Uppy page: %[1]s/uppy/#token=%[6]s
Malware scanning: %[8]s

Try it:
  curl -s -X POST $ANEXO_URL/v1/sessions -H "Authorization: Bearer $ANEXO_TOKEN" \
    -H 'Content-Type: application/json' -d '{"file_name":"hello.txt","file_size":6}'
(see README.md "Upload a file with curl" for the whole flow)

A Wegly batch to a lead (create the lead first):
  curl -s -X PUT $ANEXO_URL/v1/entities/lead/1 -H "Authorization: Bearer $ANEXO_TOKEN" \
    -H 'Content-Type: application/json' -d '{"title":"Acme Ltda"}'
  curl -s -X POST $ANEXO_URL/integrations/external/files/batches -H "Authorization: Bearer $ANEXO_TOKEN" \
    --form lead_code=1 --form title=Docs --form files=@README.md
`, srv.URL, orAWS(c.DynamoEndpoint), orAWS(c.S3Endpoint), abs, acct, token, orAWS(c.SQSEndpoint), scanNote(c.MalwareScanning, *scanDelay), auth.ScopeNames(" "))
	<-ctx.Done()
	if err := iam.WriteUsage(); err != nil {
		fail(err)
	}
	if denied := srv.Denied(); len(denied) > 0 {
		fmt.Fprintf(os.Stderr, "anexo-local: the functions' IAM policies refused %d AWS calls (AWS would too), first: %s\n", len(denied), denied[0])
		os.Exit(3)
	}
}

// scanNote says what the scanner's stand-in does.
func scanNote(on bool, delay time.Duration) string {
	if !on {
		return "off (-malware-scanning=false): every version is off"
	}
	return fmt.Sprintf("GuardDuty's stand-in reports each new version after %s; a file holding the EICAR test string is infected,\n  anything else clean. Until then downloads answer 409 scan_pending (the account's scan_pending policy: block)", delay)
}

func orAWS(s string) string {
	if s == "" {
		return "AWS"
	}
	return s
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "anexo-local:", err)
	os.Exit(1)
}
