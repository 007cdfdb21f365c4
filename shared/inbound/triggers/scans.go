package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/scanning"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// GuardDuty Malware Protection for S3 publishes each object's scan result
// to the account's default event bus with this source and detail type.
const (
	ScanResultSource     = "aws.guardduty"
	ScanResultDetailType = "GuardDuty Malware Protection Object Scan Result"
)

// ScanResult is the detail of GuardDuty's scan result event (schema 1.0).
type ScanResult struct {
	SchemaVersion string `json:"schemaVersion"`
	ScanStatus    string `json:"scanStatus"` // COMPLETED, SKIPPED, FAILED
	ResourceType  string `json:"resourceType"`
	S3Object      struct {
		BucketName string `json:"bucketName"`
		ObjectKey  string `json:"objectKey"`
		ETag       string `json:"eTag"`
		VersionID  string `json:"versionId"`
		Throttled  bool   `json:"s3Throttled"`
	} `json:"s3ObjectDetails"`
	Result struct {
		Status  string `json:"scanResultStatus"` // NO_THREATS_FOUND, THREATS_FOUND, UNSUPPORTED, ACCESS_DENIED, FAILED
		Threats []struct {
			Name string `json:"name"`
		} `json:"threats"`
	} `json:"scanResultDetails"`
}

// ParseScanResult reads a scan result event of bucket into a verdict; ok
// is false for an event that is not one (another source, type, resource
// or bucket): ignored, not retried.
func ParseScanResult(ev events.EventBridgeEvent, bucket string) (scanning.Verdict, bool, error) {
	if ev.Source != ScanResultSource || ev.DetailType != ScanResultDetailType {
		return scanning.Verdict{}, false, nil
	}
	var d ScanResult
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return scanning.Verdict{}, false, fmt.Errorf("scan result: %w", err)
	}
	if d.ResourceType != "S3_OBJECT" || d.S3Object.BucketName != bucket {
		return scanning.Verdict{}, false, nil
	}
	st, ok := scanning.ResultStatus(d.Result.Status)
	if !ok {
		switch d.ScanStatus { // a result without a known status: by the scan's
		case "SKIPPED":
			st = files.ScanUnsupported
		default:
			st = files.ScanFailed
		}
	}
	// the event carries the key as S3 names it; keys with reserved
	// characters come URL-encoded, as in S3's own notifications
	key := d.S3Object.ObjectKey
	if k, err := url.QueryUnescape(key); err == nil {
		key = k
	}
	v := scanning.Verdict{Key: key, S3Version: d.S3Object.VersionID, Status: st, At: ev.Time}
	if st == files.ScanInfected {
		for _, t := range d.Result.Threats {
			v.Threats = append(v.Threats, t.Name)
		}
	}
	return v, true, nil
}

// VerdictRecorder records a verdict.
type VerdictRecorder interface {
	Record(ctx context.Context, v scanning.Verdict) (scanning.Outcome, error)
}

// Scans records the verdicts GuardDuty's scan result events carry (an
// EventBridge rule invokes it asynchronously: an error is retried twice,
// then goes to the failure destination).
func Scans(log *slog.Logger, bucket string, rec VerdictRecorder) func(ctx context.Context, ev events.EventBridgeEvent) error {
	return func(ctx context.Context, ev events.EventBridgeEvent) error {
		attrs := []any{"function", lambdas.Scans, "request_id", requestID(ctx), "event_id", ev.ID}
		v, ok, err := ParseScanResult(ev, bucket)
		if err != nil { // to the failure destination, where an operator sees it
			log.ErrorContext(ctx, "scan result unreadable", append(attrs, "err", err)...)
			return err
		}
		if !ok {
			log.WarnContext(ctx, "not a scan result of this bucket", append(attrs, "source", ev.Source, "detail_type", ev.DetailType)...)
			return nil
		}
		attrs = append(attrs, "key", v.Key, "s3_version", v.S3Version, "status", v.Status, "threats", len(v.Threats),
			"latency_ms", time.Since(v.At).Milliseconds())
		out, err := rec.Record(ctx, v)
		if err != nil {
			log.ErrorContext(ctx, "verdict not recorded", append(attrs, "err", err)...)
			return err
		}
		log.InfoContext(ctx, "verdict", append(attrs, "outcome", out)...)
		return nil
	}
}
