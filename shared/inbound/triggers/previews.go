package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/previews"
	"github.com/anexo/anexo/shared/inbound/lambdas"
)

// PreviewTypes are the events a version's previews follow, from the
// deployment's bus: a new version (rendered at once where nothing scans)
// and a malware verdict (rendered once clean). Previews follow the bus
// rather than S3's object events: a version's record exists by then, its
// verdict is known, and the staged pieces, relayed parts and previews the
// bucket also holds never ask.
var PreviewTypes = []outbox.Type{outbox.FileCreated, outbox.FileVersionCreated, outbox.FileScanned}

// VersionRenderer renders a version's previews (previews.Service).
type VersionRenderer interface {
	Render(ctx context.Context, accountID, fileUUID, versionUUID string) (previews.Outcome, error)
}

// versionEvent is what the previews function reads of an event on the
// bus: its account, its file, and the version it is about.
type versionEvent struct {
	AccountID string `json:"account_id"`
	Data      struct {
		File struct {
			UUID        string `json:"uuid"`
			VersionUUID string `json:"version_uuid"`
		} `json:"file"`
		Version *struct {
			UUID string `json:"version_uuid"`
		} `json:"version"`
	} `json:"data"`
}

// VersionOf reads the account, file and version a file event on the bus
// (its detail) is about: the version it names (data.version), else its
// file's main version.
func VersionOf(detail []byte) (account, file, version string, err error) {
	var d versionEvent
	if err := json.Unmarshal(detail, &d); err != nil {
		return "", "", "", err
	}
	if d.AccountID == "" || d.Data.File.UUID == "" {
		return "", "", "", fmt.Errorf("no account or file")
	}
	version = d.Data.File.VersionUUID
	if d.Data.Version != nil && d.Data.Version.UUID != "" {
		version = d.Data.Version.UUID
	}
	return d.AccountID, d.Data.File.UUID, version, nil
}

// Previews renders the previews of the version each event is about (an
// EventBridge rule on the deployment's bus invokes it asynchronously: an
// error is retried twice, then goes to the failure destination).
func Previews(log *slog.Logger, r VersionRenderer) func(ctx context.Context, ev events.EventBridgeEvent) error {
	return func(ctx context.Context, ev events.EventBridgeEvent) error {
		attrs := []any{"function", lambdas.Previews, "request_id", requestID(ctx), "event_id", ev.ID, "type", ev.DetailType}
		if !slices.Contains(PreviewTypes, outbox.Type(ev.DetailType)) {
			log.WarnContext(ctx, "not an event previews follow", attrs...)
			return nil
		}
		account, file, version, err := VersionOf(ev.Detail)
		if err != nil {
			err = fmt.Errorf("a %s event without its file: %v", ev.DetailType, err)
			log.ErrorContext(ctx, "event unreadable", append(attrs, "err", err)...)
			return err
		}
		attrs = append(attrs, "account_id", account, "file_uuid", file, "version_uuid", version)
		start := time.Now()
		out, err := r.Render(ctx, account, file, version)
		if err != nil {
			log.ErrorContext(ctx, "previews not rendered", append(attrs, "err", err)...)
			return err
		}
		log.InfoContext(ctx, "previews", append(attrs, "outcome", out, "ms", time.Since(start).Milliseconds())...)
		return nil
	}
}
