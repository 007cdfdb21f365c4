// Package batches records Wegly-style batch uploads: a few small files sent
// in one multipart request (the only path where file bytes pass through
// Lambda), stored to S3, recorded as files attached to a lead or deal, and
// kept as a batch. A batch is all or nothing, and safe to retry after a
// crash between any two steps.
package batches

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/base/ids"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// Limits of one batch. MaxBody keeps the base64-encoded request (API
// Gateway encodes multipart bodies) under Lambda's 6 MB invocation payload;
// MaxFiles keeps the whole batch inside one DynamoDB transaction (4 items a
// file plus the batch and the account: ≤ 100).
const (
	MaxBody  = 4 << 20
	MaxFiles = 20
	MaxTitle = 150
	MaxNote  = 5000
	// Window is how long a batch may take between its pending record and
	// its commit; the sweeper erases the bytes of batches left pending
	// longer (a crash), and a commit after it is refused.
	Window = 15 * time.Minute
	// SourceWegly marks files and batches that came through this route.
	SourceWegly = "wegly"
)

// Status of a batch record.
const (
	StatusPending   = "pending"
	StatusCompleted = "completed"
)

// Upload is one file of a batch request.
type Upload struct {
	Field       string // form field it came in (file, files, files.items)
	Name        string
	ContentType string
	Data        []byte
}

// Input is a parsed batch request.
type Input struct {
	Target      entities.Ref
	TargetField string // crm_lead_id | crm_deal_id | lead_code | deal_code
	Title       *string
	Note        *string
	Files       []Upload
	// IdempotencyKey makes a retry return the batch the first attempt
	// created (or finish it) instead of creating another.
	IdempotencyKey string
}

// Item is one recorded file of a batch.
type Item struct {
	File    files.File
	Version files.Version
}

// Attachment is how a batch attaches one of its files to its entity.
func (b Batch) Attachment(x Item) entities.Attachment {
	return entities.Attachment{Entity: b.Target.Ref(), Title: b.Target.Title, FileUUID: x.File.UUID,
		Kind: entities.KindMedia, FileCreated: x.File.CreatedAt, AttachedAt: b.CreatedAt, AttachedBy: b.CreatedBy}
}

// record is the events of a batch: the batch with its files, each new
// file, and each attachment to the batch's entity.
func (b Batch) record(at time.Time) *outbox.Record {
	data := outbox.BatchData{ID: b.ID, Title: b.Title, Entity: outbox.EntityOf(string(b.Target.Type), b.Target.UUID, b.Target.Code, b.Target.Title)}
	for _, x := range b.Items {
		data.Files = append(data.Files, outbox.FileOf(x.File))
	}
	rec := outbox.NewRecord(b.AccountID, at).Add(outbox.BatchCreated, data)
	for _, x := range b.Items {
		rec.Add(outbox.FileCreated, outbox.FileData{File: outbox.FileOf(x.File), Version: outbox.VersionOf(x.Version), Source: "batch"})
	}
	for _, x := range b.Items {
		f := x.File
		rec.Add(outbox.FileAttached, b.Attachment(x).EventData(&f))
	}
	return rec
}

// Batch is a recorded batch.
type Batch struct {
	AccountID   string
	ID          string
	Title       *string
	Note        *string
	Target      entities.Entity
	Items       []Item
	TotalSize   int64
	CreatedByID string
	CreatedBy   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Status      string
	StaleAt     time.Time
	Fingerprint string // of the request, to refuse a reused idempotency key
}

// Errors a Store reports from CommitBatch.
var (
	ErrNotPending = errors.New("batch is no longer pending")
)

// Store is the metadata side.
type Store interface {
	// ReserveFileIDs allocates n consecutive numeric file ids (returning
	// the first) and the account's usage.
	ReserveFileIDs(ctx context.Context, accountID string, n int) (int64, files.Usage, error)
	GetBatch(ctx context.Context, accountID, id string) (Batch, error)
	// PutPending records a batch about to be written (fails with
	// apperr.ErrConflict when the id exists).
	PutPending(ctx context.Context, b Batch) error
	// CommitBatch records the files, versions, ids, attachments, counters
	// and the completed batch in one transaction, conditional on the batch
	// being pending and inside its window at now.
	CommitBatch(ctx context.Context, b Batch, now time.Time, rec *outbox.Record) error
	// DeletePending removes a pending batch record.
	DeletePending(ctx context.Context, b Batch) error
	// DuePending lists batches left pending past before.
	DuePending(ctx context.Context, before time.Time, limit int) ([]Batch, error)
}

// Blobs stores a batch's bytes.
type Blobs interface {
	// PutObject stores a whole object (with a checksum S3 verifies) and
	// returns its version id.
	PutObject(ctx context.Context, key, contentType string, body []byte) (string, error)
	// Versions lists the version ids a key has.
	Versions(ctx context.Context, key string) ([]string, error)
	// DeleteVersion removes one version for good.
	DeleteVersion(ctx context.Context, key, versionID string) error
	// Erase removes every version of a key.
	Erase(ctx context.Context, key string) error
}

// Service creates and reads batches.
type Service struct {
	Store    Store
	Blobs    Blobs
	Entities entities.Resolver
	Clock    clock.Func
	// Scanning: new versions start pending a malware verdict (else off).
	Scanning bool
}

// Validate checks an input's fields (no side effects).
func Validate(in Input) error {
	var errs apperr.Fields
	if in.Title != nil {
		if err := entities.ValidateText("title", *in.Title, MaxTitle, false); err != nil {
			e, _ := apperr.As(err)
			errs = append(errs, e.Fields...)
		}
	}
	if in.Note != nil {
		if err := entities.ValidateText("note", *in.Note, MaxNote, true); err != nil {
			e, _ := apperr.As(err)
			errs = append(errs, e.Fields...)
		}
	}
	switch {
	case len(in.Files) == 0:
		errs.Add("files", "send at least one file (fields files, file or files.items)")
	case len(in.Files) > MaxFiles:
		errs.Add("files", fmt.Sprintf("at most %d files per batch; upload more through POST /v1/sessions", MaxFiles))
	}
	for i, f := range in.Files {
		if err := files.ValidateName(fmt.Sprintf("%s[%d].filename", f.Field, i), f.Name); err != nil {
			e, _ := apperr.As(err)
			errs = append(errs, e.Fields...)
		}
		if _, err := files.MimeType(f.ContentType, f.Name); err != nil {
			errs.Add(fmt.Sprintf("%s[%d].content_type", f.Field, i), "must be a media type such as application/pdf")
		}
	}
	if in.IdempotencyKey != "" {
		if err := entities.ValidateText("Idempotency-Key", in.IdempotencyKey, 255, false); err != nil {
			errs.Add("Idempotency-Key", "must be at most 255 printable characters")
		}
	}
	return errs.Err()
}

// fingerprint identifies a request's content, so that an idempotency key
// reused for another request is refused.
func fingerprint(in Input) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%d|%v|%v|", in.Target.Type, in.Target.UUID, in.Target.Code, deref(in.Title), deref(in.Note))
	for _, f := range in.Files {
		sum := sha256.Sum256(f.Data)
		fmt.Fprintf(h, "%s|%s|%x|", f.Name, f.ContentType, sum)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func deref(p *string) string {
	if p == nil {
		return "\x00"
	}
	return *p
}

var idNamespace = uuid.MustParse("6f0e7a9c-5b8d-4c2e-9a31-0d4b7c2e8f15")

// earlier is the batch an Idempotency-Key names (id): one recorded with
// the same request, or a new one of that id; a different request under
// the key is refused.
func (s *Service) earlier(ctx context.Context, account, id, fp string) (Batch, error) {
	cur, err := s.Store.GetBatch(ctx, account, id)
	switch {
	case errors.Is(err, apperr.ErrNotFound):
		return Batch{ID: id}, nil
	case err != nil:
		return Batch{}, err
	case cur.Fingerprint != fp:
		return Batch{}, apperr.New(apperr.KindUnprocessable, "idempotency_key_reused",
			"this Idempotency-Key was used for a different request").With("field", "Idempotency-Key")
	}
	return cur, nil
}

// Create records a batch. Steps, and what a retry after a crash between
// them does:
//  1. the pending record (plan: ids, keys, names) — with an idempotency
//     key, a retry finds it and goes on with the same plan (so does an
//     attempt whose write is refused because the record is there: one
//     with the key raced it, or its own write landed and the answer was
//     lost);
//  2. the objects (PutObject each; a retry keeps what an earlier attempt
//     stored — the same request, so the same bytes — and stores the rest);
//  3. one transaction: files, versions, ids, attachments, counters and the
//     completed batch, conditional on the batch still pending.
//
// Without an idempotency key a crashed attempt is left pending and the
// sweeper erases its bytes after Window; nothing of it is ever listed.
func (s *Service) Create(ctx context.Context, p auth.Principal, in Input) (Batch, bool, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return Batch{}, false, err
	}
	if err := Validate(in); err != nil {
		return Batch{}, false, err
	}
	target, err := s.Entities.Resolve(ctx, p, in.Target, false)
	if err != nil {
		if ae, ok := apperr.As(err); ok && ae.Kind == apperr.KindNotFound {
			return Batch{}, false, ae.With("field", in.TargetField)
		}
		return Batch{}, false, err
	}
	fp := fingerprint(in)
	b := Batch{}
	if in.IdempotencyKey != "" {
		id := uuid.NewSHA1(idNamespace, []byte(p.AccountID+"\x00"+in.IdempotencyKey)).String()
		if b, err = s.earlier(ctx, p.AccountID, id, fp); err != nil || b.Status == StatusCompleted {
			return b, false, err // a retry of a finished batch
		}
	}
	now := s.Clock.Now()
	resumed := b.Status != "" // a retry of a crashed attempt: same plan
	if !resumed {
		planned, err := s.plan(ctx, p, in, target, b.ID, fp, now)
		if err != nil {
			return Batch{}, false, err
		}
		err = s.Store.PutPending(ctx, planned)
		switch {
		case err == nil:
			b = planned
		case errors.Is(err, apperr.ErrConflict) && in.IdempotencyKey != "":
			// another attempt with this key recorded its plan first (or
			// this one's write landed and its answer was lost, then was
			// retried): go on with the recorded plan
			if b, err = s.earlier(ctx, p.AccountID, b.ID, fp); err != nil || b.Status == StatusCompleted {
				return b, false, err
			}
			if b.Status == "" {
				return Batch{}, false, fmt.Errorf("batches: batch %s refused as existing, then not found", b.ID)
			}
			resumed = true
		default:
			return Batch{}, false, err
		}
	}
	if resumed && !now.Before(b.StaleAt) {
		return Batch{}, false, apperr.New(apperr.KindConflict, "batch_expired", "an earlier attempt with this Idempotency-Key expired; retry with a new key")
	}
	if err := s.putObjects(ctx, &b, in.Files, resumed); err != nil {
		return Batch{}, false, err
	}
	err = s.Store.CommitBatch(ctx, b, s.Clock.Now(), b.record(s.Clock.Now()))
	switch {
	case err == nil:
		b.Status = StatusCompleted
		return b, true, nil
	case errors.Is(err, ErrNotPending):
		cur, gerr := s.Store.GetBatch(ctx, p.AccountID, b.ID)
		if gerr == nil && cur.Status == StatusCompleted {
			return cur, false, nil // a concurrent retry committed it
		}
		return Batch{}, false, apperr.New(apperr.KindConflict, "batch_expired", "the batch took longer than its window; send it again")
	case errors.Is(err, apperr.ErrQuota):
		s.discard(context.WithoutCancel(ctx), b)
		return Batch{}, false, apperr.New(apperr.KindQuota, "quota_exceeded", fmt.Sprintf("this batch of %d bytes would exceed the account quota", b.TotalSize))
	}
	return Batch{}, false, err
}

// plan fixes the batch's ids, keys and records before anything is written.
func (s *Service) plan(ctx context.Context, p auth.Principal, in Input, target entities.Entity, id, fp string, now time.Time) (Batch, error) {
	if id == "" {
		id = newV7()
	}
	b := Batch{AccountID: p.AccountID, ID: id, Title: in.Title, Note: in.Note, Target: target, CreatedByID: p.TokenID,
		CreatedBy: p.Name, CreatedAt: now, UpdatedAt: now, Status: StatusPending, StaleAt: now.Add(Window), Fingerprint: fp}
	for _, f := range in.Files {
		b.TotalSize += int64(len(f.Data))
	}
	first, usage, err := s.Store.ReserveFileIDs(ctx, p.AccountID, len(in.Files))
	if err != nil {
		return Batch{}, err
	}
	if usage.QuotaBytes > 0 && usage.UsedBytes+b.TotalSize > usage.QuotaBytes {
		return Batch{}, apperr.New(apperr.KindQuota, "quota_exceeded",
			fmt.Sprintf("this batch of %d bytes would exceed the account quota (%d of %d bytes used)", b.TotalSize, usage.UsedBytes, usage.QuotaBytes)).
			With("used_bytes", usage.UsedBytes).With("quota_bytes", usage.QuotaBytes)
	}
	for i, u := range in.Files {
		fileUUID := uuid.NewSHA1(uuid.MustParse(id), []byte("file#"+strconv.Itoa(i))).String()
		verUUID := newV7()
		mt, _ := files.MimeType(u.ContentType, u.Name)
		ext := files.Extension(u.Name)
		size := int64(len(u.Data))
		f := files.File{AccountID: p.AccountID, UUID: fileUUID, ID: first + int64(i), VersionUUID: verUUID, Name: u.Name,
			SanitizedName: files.Sanitize(u.Name), Extension: ext, Type: files.Kind(mt, ext), MimeType: mt, Size: size,
			TotalBytes: size, VersionCount: 1, Source: SourceWegly, CreatedAt: now, UpdatedAt: now, CreatedBy: p.Name, UpdatedBy: p.Name,
			Scan: files.NewScan(s.Scanning, now)}
		v := files.Version{AccountID: p.AccountID, FileUUID: fileUUID, UUID: verUUID, Name: u.Name, MimeType: mt, Size: size,
			Key: files.ObjectKey(p.AccountID, fileUUID, verUUID), SessionID: "batch:" + id, CreatedAt: now, CreatedBy: p.Name,
			Scan: f.Scan}
		b.Items = append(b.Items, Item{File: f, Version: v})
	}
	return b, nil
}

// putObjects stores the bytes, four at a time, recording version ids. A
// resumed batch keeps the objects an earlier attempt stored (one version
// each: retries that raced leave more, and the extra ones go), so a retry
// leaves no orphan version behind.
func (s *Service) putObjects(ctx context.Context, b *Batch, ups []Upload, resumed bool) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	errs := make([]error, len(b.Items))
	for i := range b.Items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			v := &b.Items[i].Version
			if resumed {
				if v.S3Version, errs[i] = s.keepStored(ctx, v.Key); errs[i] != nil || v.S3Version != "" {
					return
				}
			}
			v.S3Version, errs[i] = s.Blobs.PutObject(ctx, v.Key, v.MimeType, ups[i].Data)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("put object: %w", err)
		}
	}
	return nil
}

// keepStored returns the version an earlier attempt stored at key (""
// when none did), deleting any other version.
func (s *Service) keepStored(ctx context.Context, key string) (string, error) {
	stored, err := s.Blobs.Versions(ctx, key)
	if err != nil || len(stored) == 0 {
		return "", err
	}
	for _, extra := range stored[1:] {
		if err := s.Blobs.DeleteVersion(ctx, key, extra); err != nil {
			return "", err
		}
	}
	return stored[0], nil
}

// discard erases a batch's bytes and its pending record.
func (s *Service) discard(ctx context.Context, b Batch) {
	for _, it := range b.Items {
		_ = s.Blobs.Erase(ctx, it.Version.Key)
	}
	_ = s.Store.DeletePending(ctx, b)
}

// Get reads a batch.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Batch, error) {
	if err := p.Require(auth.ScopeRead); err != nil {
		return Batch{}, err
	}
	if err := ids.Check("id", id); err != nil {
		return Batch{}, err
	}
	b, err := s.Store.GetBatch(ctx, p.AccountID, id)
	if errors.Is(err, apperr.ErrNotFound) || err == nil && b.Status != StatusCompleted {
		return Batch{}, apperr.New(apperr.KindNotFound, "batch_not_found", "no batch "+id+" in this account")
	}
	return b, err
}

// SweepBatch bounds the stale batches one Sweep call cleans; the sweeper
// calls it again while a full batch came back and time is left
// (triggers.Sweeper).
const SweepBatch = 50

// Sweep erases the bytes of batches left pending past their window (a
// crash between the pending record and the commit) and drops the records.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	due, err := s.Store.DuePending(ctx, s.Clock.Now().Add(-time.Minute), SweepBatch)
	if err != nil {
		return 0, err
	}
	for i, b := range due {
		for _, it := range b.Items {
			if err := s.Blobs.Erase(ctx, it.Version.Key); err != nil {
				return i, fmt.Errorf("erase %s: %w", it.Version.Key, err)
			}
		}
		if err := s.Store.DeletePending(ctx, b); err != nil && !errors.Is(err, apperr.ErrConflict) {
			return i, err
		}
	}
	return len(due), nil
}

func newV7() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
