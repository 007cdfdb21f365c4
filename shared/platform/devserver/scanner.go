package devserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
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
	"github.com/anexo/anexo/shared/inbound/lambdas"
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
// to the scans function as the stack's rule does (retried twice). It also
// takes GuardDuty's on-demand scan requests (SendObjectMalwareScan, the
// sweeper's, at the embedded messaging endpoint) and scans the version
// named at once.
//
// GuardDuty hears of new objects from S3; the stand-in hears of new
// versions from the bus (file.created, file.version_created), since the
// embedded S3's notifications are not safe to use (versitygw's webhook
// reads a request's strings after the request ends). Objects no version
// records (a discarded upload, staged pieces) are therefore not scanned
// here, and a verdict never precedes its version's record: the sweeper's
// look at overdue versions (scanning.Service.Sweep) is tested apart.
type scanner struct {
	ctx    context.Context // the server's: scans stop with it
	s3     *app.Deps       // the bucket, as GuardDuty's role reaches it
	record func(context.Context, events.EventBridgeEvent) error
	delay  time.Duration
	log    *slog.Logger
	slots  chan struct{} // four scans at a time, as GuardDuty scans in parallel
}

func newScanner(ctx context.Context, s3 *app.Deps, record func(context.Context, events.EventBridgeEvent) error, delay time.Duration) *scanner {
	ctx = lambdas.WithConsumer(ctx, lambdas.Scans) // GuardDuty's work and the rule's invocation: apart from any request's
	return &scanner{ctx: ctx, s3: s3, record: record, delay: delay, log: s3.Log, slots: make(chan struct{}, 4)}
}

// published hears of each new file version on the bus and scans its
// object after the delay.
func (sc *scanner) published(_ string, ev PutEvent) {
	if ev.Source != eventbus.Source || ev.DetailType != string(outbox.FileCreated) && ev.DetailType != string(outbox.FileVersionCreated) {
		return
	}
	account, file, version, err := triggers.VersionOf([]byte(ev.Detail))
	if err != nil || version == "" {
		return
	}
	key := files.ObjectKey(account, file, version)
	time.AfterFunc(sc.delay, func() { sc.run(key, nil) })
}

// requested takes an on-demand scan request (GuardDuty's
// SendObjectMalwareScan, as the sweeper sends it) for the bucket's object
// version, scanned at once; false for another bucket (no plan covers it).
func (sc *scanner) requested(bucket, key, versionID string) bool {
	if bucket != sc.s3.Cfg.Bucket {
		return false
	}
	var v *string
	if versionID != "" {
		v = &versionID
	}
	go sc.run(key, v)
	return true
}

// run scans key's object version (nil: the one uploaded) in a free slot.
func (sc *scanner) run(key string, version *string) {
	sc.slots <- struct{}{}
	defer func() { <-sc.slots }()
	if sc.ctx.Err() == nil {
		sc.scan(sc.ctx, key, version)
	}
}

// uploaded is the object version a new file version's key holds: its
// newest, even under a delete marker (a file trashed before its scan), as
// GuardDuty scans what was uploaded; nil when none is listed.
func (sc *scanner) uploaded(ctx context.Context, key string) *string {
	vs, err := sc.s3.S3().ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &sc.s3.Cfg.Bucket, Prefix: &key})
	if err != nil {
		return nil
	}
	for _, v := range vs.Versions {
		if aws.ToString(v.Key) == key {
			return v.VersionId
		}
	}
	return nil
}

// scan reads one object version (nil: the one uploaded), tags it and
// reports its result.
func (sc *scanner) scan(ctx context.Context, key string, version *string) {
	if version == nil {
		version = sc.uploaded(ctx, key)
	}
	obj, err := sc.s3.S3().GetObject(ctx, &s3.GetObjectInput{Bucket: &sc.s3.Cfg.Bucket, Key: &key, VersionId: version})
	if err != nil {
		sc.log.WarnContext(ctx, "scanner: object gone before its scan", "key", key, "err", err)
		return // deleted meanwhile: GuardDuty reports nothing either
	}
	infected, err := holdsEICAR(obj.Body)
	_ = obj.Body.Close()
	status, scanned := "NO_THREATS_FOUND", aws.ToString(obj.VersionId)
	switch {
	case err != nil:
		status = "FAILED"
	case infected:
		status = "THREATS_FOUND"
	}
	_, err = sc.s3.S3().PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &sc.s3.Cfg.Bucket, Key: &key, VersionId: &scanned,
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String(scanning.Tag), Value: aws.String(status)}}}})
	if err != nil {
		sc.log.WarnContext(ctx, "scanner: tagging failed", "key", key, "err", err)
	}
	invokeTarget(ctx, sc.log, sc.record, scanResultEvent(sc.s3.Cfg.Bucket, key, scanned, aws.ToString(obj.ETag), status))
}

// scanResultEvent is GuardDuty's scan result event for an object version.
func scanResultEvent(bucket, key, version, etag, status string) events.EventBridgeEvent {
	var d triggers.ScanResult
	d.SchemaVersion, d.ResourceType, d.ScanStatus = "1.0", "S3_OBJECT", "COMPLETED"
	if status == "FAILED" {
		d.ScanStatus = "FAILED"
	}
	d.S3Object.BucketName, d.S3Object.ObjectKey, d.S3Object.ETag, d.S3Object.VersionID = bucket, key, etag, version
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
	buf := make([]byte, 0, 64<<10+len(sig))
	chunk := make([]byte, 64<<10)
	for {
		n, err := r.Read(chunk)
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
