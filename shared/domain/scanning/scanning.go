// Package scanning records the malware verdicts a scanner (GuardDuty
// Malware Protection for S3, or local mode's stand-in) reports for the
// objects of file versions: on the version, on its file while it is the
// main version, and as file.scanned (and file.infected) events written in
// the same transaction. Verdicts arrive at least once and in any order
// relative to the upload's commit; recording is idempotent.
package scanning

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// Verdict is a scanner's result for one object version.
type Verdict struct {
	Key       string // the object key (files.ObjectKey)
	S3Version string // the object version scanned ("" if not said)
	Status    files.ScanStatus
	Threats   []string
	At        time.Time // when it was scanned
}

// Store reads versions and files and records verdicts.
type Store interface {
	GetFile(ctx context.Context, accountID, fileUUID string) (files.File, error)
	GetVersion(ctx context.Context, accountID, fileUUID, versionUUID string) (files.Version, error)
	// RecordScan writes v.Scan on version v, and on its file when main,
	// with rec, if v's stored verdict is still the one read (prev) and,
	// when main, v is still the main version: else apperr.ErrConflict.
	// The version leaves the sweeper's queue.
	RecordScan(ctx context.Context, v files.Version, prev files.ScanStatus, main bool, rec *outbox.Record) error
	// DueScans lists versions still pending whose look (Scan.Due) is at
	// most now, oldest first.
	DueScans(ctx context.Context, now time.Time, limit int) ([]files.Version, error)
	// RescheduleScan sets a pending version's next look (v.Scan.Due and
	// Looks); ErrConflict when it is no longer pending.
	RescheduleScan(ctx context.Context, v files.Version) error
	// PurgeInfected records that infected version v's bytes were erased
	// (v.Scan.PurgedAt), taking its size off its file f's total and the
	// account's usage, with rec, if v is still quarantined and f as read
	// (trashed or not, its main version): else apperr.ErrConflict. The
	// version leaves the sweeper's queue.
	PurgeInfected(ctx context.Context, v files.Version, f files.File, rec *outbox.Record) error
}

// Blobs erases the bytes of a version's object (every object version and
// delete marker of its key; nothing left is no error).
type Blobs interface {
	Erase(ctx context.Context, key string) error
}

// Tags reads the scanner's tag on an object version ("" when it has
// none; apperr.ErrNotFound when the version is gone).
type Tags interface {
	ScanTag(ctx context.Context, key, versionID string) (string, error)
}

// Scanner asks the scanner to scan an object version again, on demand
// (GuardDuty's SendObjectMalwareScan): its verdict comes back as any
// other, by the scan result event and the tag.
type Scanner interface {
	RequestScan(ctx context.Context, key, versionID string) error
}

// Receipts settles what waits for a version's verdict: a file request's
// received file, attached once it is not infected
// (requests.Service.Settle; idempotent).
type Receipts interface {
	Settle(ctx context.Context, v files.Version) error
}

// Tag is the tag GuardDuty Malware Protection for S3 puts on each object
// it scanned, its value the result status (ResultStatus); local mode's
// stand-in tags the same way.
const Tag = "GuardDutyMalwareScanStatus"

// ResultStatus maps GuardDuty's scan result status (its event's and its
// tag's) to a verdict; ok is false for a value it does not know.
func ResultStatus(s string) (files.ScanStatus, bool) {
	switch s {
	case "NO_THREATS_FOUND":
		return files.ScanClean, true
	case "THREATS_FOUND":
		return files.ScanInfected, true
	case "UNSUPPORTED":
		return files.ScanUnsupported, true
	case "ACCESS_DENIED", "FAILED": // the scanner could not read it: surfaced, never clean
		return files.ScanFailed, true
	}
	return "", false
}

// Outcome says what became of a verdict.
type Outcome string

// The outcomes.
const (
	Recorded   Outcome = "recorded"
	Unchanged  Outcome = "unchanged"  // the version has this verdict already (a redelivery)
	Unknown    Outcome = "unknown"    // no such version (yet: the sweeper reads the object's tag later; or purged)
	Superseded Outcome = "superseded" // another object version than the one the catalogue serves
	Foreign    Outcome = "foreign"    // not a file version's object (staged pieces)
	Sticky     Outcome = "sticky"     // the version is infected: no later verdict clears it
)

// Service records verdicts, and settles the versions whose verdict is
// overdue (Sweep).
type Service struct {
	Store Store
	Tags  Tags  // the sweeper reads the scanner's tags
	Blobs Blobs // and erases infected versions' bytes after their quarantine
	// Scanner, when set, is asked to scan an overdue untagged version
	// again at each look but the last.
	Scanner Scanner
	// Receipts, when set, settles a version sent to a file request once
	// its verdict is recorded — and at every later delivery of it, so a
	// crash in between is healed by the redelivery.
	Receipts Receipts
	Clock    clock.Func
}

// SweepBatch is how many overdue versions one Sweep looks at.
const SweepBatch = 100

// MaxLooks is how often the sweeper looks at a pending version before it
// records the scan as failed: at 15 minutes after the upload, then 30,
// 60 and 120 minutes later (about 4 hours in all).
const MaxLooks = 4

// Sweep looks at the versions whose verdict is overdue: one whose object
// the scanner tagged takes the tag's verdict (its event came before the
// upload's completion was recorded, or was lost); one still untagged is
// scanned again on demand (Scanner) and looked at again later, and after
// MaxLooks is recorded failed — never left pending, never taken for
// clean. It erases the bytes of infected versions whose quarantine ended
// (purge). It returns how many versions it handled; a refused scan
// request is reported after the others were handled.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.Clock.Now()
	vs, err := s.Store.DueScans(ctx, now, SweepBatch)
	if err != nil {
		return 0, err
	}
	var requests []error
	for i, v := range vs {
		if v.Scan.Status == files.ScanInfected {
			err = s.purge(ctx, v, now)
		} else {
			err = s.look(ctx, v, now, &requests)
		}
		if err != nil {
			return i, fmt.Errorf("version %s/%s/%s: %w", v.AccountID, v.FileUUID, v.UUID, err)
		}
	}
	return len(vs), errors.Join(requests...)
}

// purge erases an infected version's bytes when its quarantine ended,
// then records it (file.version_purged): its record stays, its bytes
// leave the usage. A retry after a crash in between finds nothing left
// to erase and records it; a version purged meanwhile (or its whole
// file) is left as it is.
func (s *Service) purge(ctx context.Context, v files.Version, now time.Time) error {
	if err := s.Blobs.Erase(ctx, v.Key); err != nil {
		return err
	}
	_, err := retried(func() (struct{}, error) {
		return struct{}{}, s.recordPurge(ctx, v.AccountID, v.FileUUID, v.UUID, now)
	})
	return err
}

func (s *Service) recordPurge(ctx context.Context, account, fileUUID, versionUUID string, now time.Time) error {
	f, err := s.Store.GetFile(ctx, account, fileUUID)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil // purged with its file
	}
	if err != nil {
		return err
	}
	v, err := s.Store.GetVersion(ctx, account, fileUUID, versionUUID)
	if errors.Is(err, apperr.ErrNotFound) || err == nil && !v.Scan.Quarantined() {
		return nil
	}
	if err != nil {
		return err
	}
	at := now.UTC().Truncate(time.Second)
	v.Scan.PurgedAt = &at
	f.TotalBytes -= v.Size
	if f.VersionUUID == v.UUID {
		f.Scan = v.Scan
	}
	return s.Store.PurgeInfected(ctx, v, f, outbox.OfFile(outbox.FileVersionPurged, f, &v, "sweeper", s.Clock.Now()))
}

// look settles or reschedules one overdue version; a refused scan
// request is added to requests (the version is rescheduled all the same).
func (s *Service) look(ctx context.Context, v files.Version, now time.Time, requests *[]error) error {
	tag, err := s.Tags.ScanTag(ctx, v.Key, v.S3Version)
	gone := errors.Is(err, apperr.ErrNotFound)
	if err != nil && !gone {
		return err
	}
	st, tagged := ResultStatus(tag)
	if !tagged && v.Scan.Looks+1 < MaxLooks {
		v.Scan.Looks++
		v.Scan.Due = now.Add(files.ScanOverdue << v.Scan.Looks)
		if err := s.Store.RescheduleScan(ctx, v); err != nil {
			if errors.Is(err, apperr.ErrConflict) {
				return nil // its verdict came meanwhile
			}
			return err
		}
		if s.Scanner != nil && !gone {
			if err := s.Scanner.RequestScan(ctx, v.Key, v.S3Version); err != nil {
				*requests = append(*requests, fmt.Errorf("scan request for %s: %w", v.Key, err))
			}
		}
		return nil
	}
	if !tagged {
		st = files.ScanFailed // the scanner never reported
	}
	_, err = s.Record(ctx, Verdict{Key: v.Key, S3Version: v.S3Version, Status: st, At: now})
	return err
}

// maxTries bounds the optimistic retries against concurrent writers (a
// promote, a second verdict).
const maxTries = 4

// Record records v: idempotent, safe to retry.
func (s *Service) Record(ctx context.Context, v Verdict) (Outcome, error) {
	account, fileUUID, versionUUID, ok := files.ParseObjectKey(v.Key)
	if !ok {
		return Foreign, nil
	}
	if !slices.Contains(files.ScanStatuses, v.Status) || v.Status == files.ScanPending || v.Status == files.ScanOff {
		return "", apperr.Invalid("status", "is not a verdict: "+string(v.Status))
	}
	return retried(func() (Outcome, error) { return s.record(ctx, account, fileUUID, versionUUID, v) })
}

// retried runs an optimistic step again while it conflicts with a
// concurrent writer, up to maxTries times.
func retried[T any](step func() (T, error)) (T, error) {
	for try := 0; ; try++ {
		out, err := step()
		if !errors.Is(err, apperr.ErrConflict) || try == maxTries-1 {
			return out, err
		}
	}
}

func (s *Service) record(ctx context.Context, account, fileUUID, versionUUID string, v Verdict) (Outcome, error) {
	ver, err := s.Store.GetVersion(ctx, account, fileUUID, versionUUID)
	if errors.Is(err, apperr.ErrNotFound) {
		return Unknown, nil
	}
	if err != nil {
		return "", err
	}
	if v.S3Version != "" && ver.S3Version != "" && v.S3Version != ver.S3Version {
		return Superseded, nil
	}
	prev := ver.Scan
	switch {
	case prev.Status == v.Status && slices.Equal(prev.Threats, v.Threats):
		return Unchanged, s.settle(ctx, ver)
	case prev.Status == files.ScanInfected:
		return Sticky, s.settle(ctx, ver)
	}
	f, err := s.Store.GetFile(ctx, account, fileUUID)
	if errors.Is(err, apperr.ErrNotFound) {
		return Unknown, nil
	}
	if err != nil {
		return "", err
	}
	at := v.At.UTC().Truncate(time.Second)
	if v.At.IsZero() {
		at = s.Clock.Now().UTC().Truncate(time.Second)
	}
	ver.Scan = files.Scan{Status: v.Status, ScannedAt: &at, Threats: v.Threats}
	if v.Status == files.ScanInfected {
		ver.Scan = files.Infect(at, v.Threats)
	}
	main := f.VersionUUID == ver.UUID
	if main {
		f.Scan = ver.Scan
	}
	rec := outbox.OfFile(outbox.FileScanned, f, &ver, "", s.Clock.Now())
	if v.Status == files.ScanInfected {
		rec.Add(outbox.FileInfected, rec.Events[0].Data)
	}
	if err := s.Store.RecordScan(ctx, ver, prev.Status, main, rec); err != nil {
		return "", err
	}
	return Recorded, s.settle(ctx, ver)
}

// settle hands a version sent to a file request to Receipts.
func (s *Service) settle(ctx context.Context, v files.Version) error {
	if v.Request == nil || s.Receipts == nil {
		return nil
	}
	if err := s.Receipts.Settle(ctx, v); err != nil {
		return fmt.Errorf("settle file request %s: %w", v.Request.ID, err)
	}
	return nil
}
