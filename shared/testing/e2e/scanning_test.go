package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/scanning"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/testing/presigned"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// withScanner turns on the malware scanner's stand-in, reporting after delay.
func withScanner(delay time.Duration) func(*devserver.Options) {
	return func(o *devserver.Options) { o.Config.MalwareScanning, o.ScanDelay = true, delay }
}

// waitScan polls a file until its scan status leaves pending.
func (c *client) waitScan(uuid string) map[string]any {
	c.t.Helper()
	return c.pollFile(uuid, "its scan is still pending", func(f map[string]any) bool {
		return f["scan"].(map[string]any)["status"] != string(files.ScanPending)
	})
}

// pollFile polls a file until it exists and done holds of it (10 s at
// most).
func (c *client) pollFile(uuid, still string, done func(map[string]any) bool) map[string]any {
	c.t.Helper()
	for range 200 {
		if r := c.do("GET", "/v1/files/"+uuid, nil); r.Status == 200 && done(r.JSON()) {
			return r.JSON()
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("file %s: %s", uuid, still)
	return nil
}

// TestMalwareScanning, end to end on the embedded S3 with GuardDuty's
// stand-in: a new upload is pending, its download refused under the
// default policy and served under allow; a clean file becomes clean and
// downloads; an EICAR upload becomes infected (its object tagged as
// GuardDuty tags it), its download, attach and promotion are refused; the
// listing filters on the status; file.scanned and file.infected reach a
// webhook, validated against the catalogue.
func TestMalwareScanning(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t), withScanner(300*time.Millisecond))
	c := e.account(0, "")
	r := newReceiver(t, e.clock.Now)
	c.hook(r, map[string]any{"types": []string{"file.scanned", "file.infected"}})

	clean := c.upload("report.txt", []byte("quarterly numbers"), nil)
	if clean["scan"].(map[string]any)["status"] != "pending" {
		t.Fatalf("a new upload's scan = %v", clean["scan"])
	}
	dl := c.do("GET", "/v1/files/"+clean["uuid"].(string)+"/download", nil)
	if dl.Status != http.StatusConflict || !strings.Contains(string(dl.Body), "scan_pending") || dl.Header.Get("Retry-After") == "" {
		t.Fatalf("downloading a pending file: %s (Retry-After %q)", dl, dl.Header.Get("Retry-After"))
	}
	c.expect(200, "PATCH", "/v1/account", map[string]any{"settings": map[string]any{"scan_pending": "allow"}})
	early := c.upload("early.txt", []byte("needed now"), nil)
	if got, _ := c.download(early["uuid"].(string), ""); string(got) != "needed now" {
		t.Fatalf("a pending file under allow: %q", got)
	}
	c.expect(200, "PATCH", "/v1/account", map[string]any{"settings": map[string]any{"scan_pending": "block"}})

	if f := c.waitScan(clean["uuid"].(string)); f["scan"].(map[string]any)["status"] != "clean" || f["scan"].(map[string]any)["scanned_at"] == nil {
		t.Fatalf("a clean file's scan = %v", f["scan"])
	}
	if got, _ := c.download(clean["uuid"].(string), ""); string(got) != "quarterly numbers" {
		t.Fatalf("a clean file's bytes = %q", got)
	}

	// the EICAR test file, then a clean version over it: the infected one
	// cannot be made main again
	eicar := c.upload("eicar.com", []byte(devserver.EICAR+"\r\n"), nil)
	f := c.waitScan(eicar["uuid"].(string))
	scan := f["scan"].(map[string]any)
	if scan["status"] != "infected" || len(scan["threats"].([]any)) != 1 || scan["threats"].([]any)[0] != "EICAR-Test-File (not a virus)" {
		t.Fatalf("the EICAR file's scan = %v", scan)
	}
	if r := c.do("GET", "/v1/files/"+eicar["uuid"].(string)+"/download", nil); r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "file_infected") {
		t.Fatalf("downloading an infected file: %s", r)
	}
	att := c.expect(207, "POST", "/v1/entities/lead/"+uuid.NewString()+"/files", map[string]any{"file_uuids": []string{eicar["uuid"].(string), clean["uuid"].(string)}})
	res := att["_embedded"].(map[string]any)["attachments"].([]any)
	if code, st := res[0].(map[string]any)["error"].(map[string]any)["code"], res[1].(map[string]any)["status"]; code != "file_infected" || st != "attached" {
		t.Fatalf("attaching an infected and a clean file: %v", att)
	}
	tags, err := e.srv.Deps.S3().GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: &e.srv.Deps.Cfg.Bucket,
		Key: aws.String(files.ObjectKey(c.account, eicar["uuid"].(string), eicar["version_uuid"].(string)))})
	if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != scanning.Tag || aws.ToString(tags.TagSet[0].Value) != "THREATS_FOUND" {
		t.Fatalf("the infected object's tags: %+v %v", tags, err)
	}
	// a URL signed for the object (as one signed before the verdict): the
	// bucket refuses it, as the stack's bucket policy does
	key := files.ObjectKey(c.account, eicar["uuid"].(string), eicar["version_uuid"].(string))
	signed, err := e.srv.Deps.Blobs().PresignGet(context.Background(), key, "", "attachment", "application/octet-stream", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _, err := presigned.Get(context.Background(), signed); err != nil || status != http.StatusForbidden {
		t.Fatalf("a signed GET of the infected object: %d %v, want 403", status, err)
	}
	v2 := c.upload("eicar.com", []byte("clean now"), map[string]any{"file_uuid": eicar["uuid"]})
	c.waitScan(eicar["uuid"].(string))
	if r := c.do("POST", "/v1/files/"+eicar["uuid"].(string)+"/versions/"+eicar["version_uuid"].(string)+"/promote", nil); r.Status != http.StatusForbidden {
		t.Fatalf("promoting the infected version: %s", r)
	}
	// a field pinned to the infected version, while a clean one is main
	pin := c.expect(207, "POST", "/v1/entities/deal/"+uuid.NewString()+"/files", map[string]any{"files": []map[string]any{
		{"file_uuid": eicar["uuid"], "kind": "field", "field_id": "contract", "version_uuid": eicar["version_uuid"]}}})
	if e := pin["_embedded"].(map[string]any)["attachments"].([]any)[0].(map[string]any)["error"].(map[string]any); e["code"] != "file_infected" || e["field"] != "files[0].version_uuid" {
		t.Fatalf("pinning the infected version: %v", pin)
	}
	if ids, _ := c.walk("filter[scan]=infected"); len(ids) != 0 {
		t.Fatalf("infected main versions after the clean one: %v", ids)
	}
	if ids, _ := c.walk("filter[scan]=clean&order[created_at]=asc"); len(ids) != 3 || ids[2] != v2["uuid"] {
		t.Fatalf("clean files: %v", ids)
	}

	// a file trashed before its scan: the scanner reads the version under
	// the delete marker, as GuardDuty scans what was uploaded
	gone := c.upload("early-trash.txt", []byte("trashed at once"), nil)
	c.expect(200, "DELETE", "/v1/files", batchBody(gone["uuid"].(string)))
	if f := c.waitScan(gone["uuid"].(string)); f["scan"].(map[string]any)["status"] != "clean" {
		t.Fatalf("a file trashed before its scan: %v", f["scan"])
	}

	// every verdict's event: five file.scanned, one file.infected
	got := r.waitFor(6)
	count := map[string]int{}
	for _, d := range got {
		count[d.Type]++
	}
	if count["file.scanned"] != 5 || count["file.infected"] != 1 {
		t.Fatalf("deliveries: %v", count)
	}
}

// TestOverdueScans: a version whose scan result never reached the
// function (here the stand-in waits an hour) is looked at by the sweeper
// after 15 minutes: it takes the verdict GuardDuty's tag on its object
// says; an untagged one is scanned again on demand (SendObjectMalwareScan,
// under the sweeper's enforced policy), whose verdict lands as any other.
// 30 days after its verdict, the sweeper erases the infected version's
// bytes from S3 and from the usage; its record stays, purged, and
// file.version_purged reaches a webhook.
func TestOverdueScans(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t), withScanner(time.Hour))
	c := e.account(0, "")
	r := newReceiver(t, e.clock.Now)
	c.hook(r, map[string]any{"types": []string{"file.version_purged"}})
	tagged := c.upload("tagged.bin", []byte("tagged by the scanner"), nil)
	untagged := c.upload("untagged.bin", []byte("not scanned yet"), nil)
	ctx := context.Background()
	taggedKey := files.ObjectKey(c.account, tagged["uuid"].(string), tagged["version_uuid"].(string))
	_, err := e.srv.Deps.S3().PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &e.srv.Deps.Cfg.Bucket, Key: &taggedKey,
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String(scanning.Tag), Value: aws.String("THREATS_FOUND")}}}})
	if err != nil {
		t.Fatal(err)
	}
	sweep := func() {
		t.Helper()
		if err := app.Sweeper(e.srv.Function(lambdas.Sweeper))(ctx, lambdaevents.EventBridgeEvent{ID: "sweep"}); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(files.ScanOverdue + time.Minute)
	sweep()
	f := c.expect(200, "GET", "/v1/files/"+tagged["uuid"].(string), nil)
	scan := f["scan"].(map[string]any)
	if scan["status"] != "infected" || scan["purge_at"] == nil || scan["purged_at"] != nil {
		t.Fatalf("the tagged version: %v", scan)
	}
	if f := c.waitScan(untagged["uuid"].(string)); f["scan"].(map[string]any)["status"] != "clean" {
		t.Fatalf("the untagged version after its on-demand scan: %v", f["scan"])
	}
	used := c.expect(200, "GET", "/v1/usage", nil)["used_bytes"].(float64)

	e.clock.Advance(files.Quarantine)
	sweep()
	scan = c.expect(200, "GET", "/v1/files/"+tagged["uuid"].(string), nil)["scan"].(map[string]any)
	if scan["status"] != "infected" || scan["purged_at"] == nil {
		t.Fatalf("the infected version after its quarantine: %v", scan)
	}
	vs, err := e.srv.Deps.S3().ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &e.srv.Deps.Cfg.Bucket, Prefix: &taggedKey})
	if err != nil || len(vs.Versions)+len(vs.DeleteMarkers) != 0 {
		t.Fatalf("the infected bytes after the quarantine: %d versions, %v", len(vs.Versions), err)
	}
	if got := c.expect(200, "GET", "/v1/usage", nil)["used_bytes"].(float64); got != used-float64(len("tagged by the scanner")) {
		t.Fatalf("used bytes %v after the purge, %v before", got, used)
	}
	for _, d := range r.waitFor(1) {
		if d.Type != "file.version_purged" {
			t.Fatalf("delivered %s, want file.version_purged", d.Type)
		}
	}
}
