package devserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/adapters/eventbus"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/scanning"
	"github.com/anexo/anexo/shared/inbound/triggers"
	"github.com/anexo/anexo/shared/platform/app"
)

// EICAR is the antivirus test file's signature: every scanner reports a
// file that holds it, and so does the stand-in.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// eicarThreat is the name GuardDuty gives the EICAR test file.
const eicarThreat = "EICAR-Test-File (not a virus)"

// scanner stands in for GuardDuty Malware Protection for S3 in local mode.
// It emulates GuardDuty's interface, not a virus scanner: the object of
// each new file version is read after a delay; one that holds the EICAR
// test string is THREATS_FOUND, any other NO_THREATS_FOUND. Like
// GuardDuty, it tags the object version GuardDutyMalwareScanStatus=<result>
// and publishes the scan result event in GuardDuty's shape, which it hands
// to the scans function as the stack's rule does (retried twice).
//
// GuardDuty hears of new objects from S3; the stand-in hears of new
// versions from the bus (file.created, file.version_created), since the
// embedded S3's notifications are not safe to use (versitygw's webhook
// reads a request's strings after the request ends). Objects no version
// records (a discarded upload, staged pieces) are therefore not scanned
// here, and a verdict never precedes its version's record: the sweeper's
// look at overdue versions (scanning.Service.Sweep) is tested apart.
type scanner struct {
	s3     *app.Deps // the bucket, as GuardDuty's role reaches it
	record func(context.Context, events.EventBridgeEvent) error
	delay  time.Duration
	log    *slog.Logger

	mu      sync.Mutex
	pending []scanJob
	wake    chan struct{}
}

type scanJob struct {
	objectCreated
	due time.Time
}

func newScanner(s3 *app.Deps, record func(context.Context, events.EventBridgeEvent) error, delay time.Duration) *scanner {
	return &scanner{s3: s3, record: record, delay: delay, log: s3.Log, wake: make(chan struct{}, 1)}
}

// objectCreated is a new object version to scan.
type objectCreated struct {
	Key       string
	VersionID string // "": the current version
}

// published hears of each new file version on the bus.
func (sc *scanner) published(_ string, ev PutEvent) {
	if ev.Source != eventbus.Source || ev.DetailType != string(outbox.FileCreated) && ev.DetailType != string(outbox.FileVersionCreated) {
		return
	}
	var d struct {
		AccountID string `json:"account_id"`
		Data      struct {
			File struct {
				UUID        string `json:"uuid"`
				VersionUUID string `json:"version_uuid"`
			} `json:"file"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(ev.Detail), &d) != nil || d.Data.File.VersionUUID == "" {
		return
	}
	sc.enqueue(objectCreated{Key: files.ObjectKey(d.AccountID, d.Data.File.UUID, d.Data.File.VersionUUID)})
}

// enqueue schedules a scan of a new object version.
func (sc *scanner) enqueue(o objectCreated) {
	sc.mu.Lock()
	sc.pending = append(sc.pending, scanJob{objectCreated: o, due: time.Now().Add(sc.delay)})
	sc.mu.Unlock()
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

func (sc *scanner) run(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-sc.wake:
		}
		now := time.Now()
		sc.mu.Lock()
		var due []scanJob
		rest := sc.pending[:0]
		for _, j := range sc.pending {
			if now.Before(j.due) {
				rest = append(rest, j)
			} else {
				due = append(due, j)
			}
		}
		sc.pending = rest
		sc.mu.Unlock()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4) // four scans at a time, as GuardDuty scans in parallel
		for _, j := range due {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				sc.scan(ctx, j.objectCreated)
			})
		}
		wg.Wait()
	}
}

// scan reads one object version, tags it and reports its result.
func (sc *scanner) scan(ctx context.Context, o objectCreated) {
	if o.VersionID == "" {
		// the version the bus event is about: its key's newest object
		// version, even under a delete marker (a file trashed meanwhile)
		vs, err := sc.s3.S3().ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &sc.s3.Cfg.Bucket, Prefix: &o.Key})
		if err == nil {
			for _, v := range vs.Versions {
				if aws.ToString(v.Key) == o.Key {
					o.VersionID = aws.ToString(v.VersionId)
					break
				}
			}
		}
	}
	in := &s3.GetObjectInput{Bucket: &sc.s3.Cfg.Bucket, Key: &o.Key}
	if o.VersionID != "" {
		in.VersionId = &o.VersionID
	}
	obj, err := sc.s3.S3().GetObject(ctx, in)
	if err != nil {
		sc.log.WarnContext(ctx, "scanner: object gone before its scan", "key", o.Key, "err", err)
		return // deleted meanwhile: GuardDuty reports nothing either
	}
	infected, err := holdsEICAR(obj.Body)
	_ = obj.Body.Close()
	status, etag := "NO_THREATS_FOUND", aws.ToString(obj.ETag)
	if o.VersionID == "" {
		o.VersionID = aws.ToString(obj.VersionId)
	}
	switch {
	case err != nil:
		status = "FAILED"
	case infected:
		status = "THREATS_FOUND"
	}
	_, err = sc.s3.S3().PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &sc.s3.Cfg.Bucket, Key: &o.Key, VersionId: aws.String(o.VersionID),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String(scanning.Tag), Value: aws.String(status)}}}})
	if err != nil {
		sc.log.WarnContext(ctx, "scanner: tagging failed", "key", o.Key, "err", err)
	}
	ev := scanResultEvent(sc.s3.Cfg.Bucket, o, etag, status)
	for try := 0; try < 3; try++ { // the rule's retry policy
		if err = sc.record(ctx, ev); err == nil {
			return
		}
	}
	sc.log.ErrorContext(ctx, "scanner: the scans function failed the result", "key", o.Key, "err", err)
}

// scanResultEvent is GuardDuty's scan result event for an object version.
func scanResultEvent(bucket string, o objectCreated, etag, status string) events.EventBridgeEvent {
	var d triggers.ScanResult
	d.SchemaVersion, d.ResourceType, d.ScanStatus = "1.0", "S3_OBJECT", "COMPLETED"
	if status == "FAILED" {
		d.ScanStatus = "FAILED"
	}
	d.S3Object.BucketName, d.S3Object.ObjectKey, d.S3Object.ETag, d.S3Object.VersionID = bucket, o.Key, etag, o.VersionID
	d.Result.Status = status
	if status == "THREATS_FOUND" {
		d.Result.Threats = append(d.Result.Threats, struct {
			Name string `json:"name"`
		}{eicarThreat})
	}
	detail, _ := json.Marshal(d)
	return events.EventBridgeEvent{Version: "0", ID: uuid.NewString(), Source: triggers.ScanResultSource, DetailType: triggers.ScanResultDetailType,
		AccountID: "000000000000", Time: time.Now().UTC(), Region: "us-east-1", Detail: detail}
}

// holdsEICAR reports whether r contains the EICAR test string, reading it
// once in 64 KiB windows that overlap by the signature's length.
func holdsEICAR(r io.Reader) (bool, error) {
	sig := []byte(EICAR)
	br := bufio.NewReaderSize(r, 64<<10)
	buf := make([]byte, 0, 64<<10+len(sig))
	chunk := make([]byte, 64<<10)
	for {
		n, err := br.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if bytes.Contains(buf, sig) {
			return true, nil
		}
		if len(buf) > len(sig) {
			buf = append(buf[:0], buf[len(buf)-len(sig):]...)
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}
