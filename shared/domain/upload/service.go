package upload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/base/crc"
	"github.com/anexo/anexo/shared/base/ids"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// MaxSessionTTL bounds a session's life: the bucket's lifecycle rule
// aborts multipart uploads still incomplete a day after they began (the
// stack derives the rule from this bound), so a session may not outlive it.
const MaxSessionTTL = 24 * time.Hour

// Limits configures the service.
type Limits struct {
	MinPartSize int64         // default 8 MiB; never below S3's 5 MiB
	MaxFileSize int64         // default 5 TiB
	SessionTTL  time.Duration // default and at most MaxSessionTTL
	PartURLTTL  time.Duration // default 15 min
	FirstBatch  int           // part URLs returned by Open; default 100
	MaxBatch    int           // part URLs per Parts call; default 1000
	// SessionCache is how long a process reuses an open session it read
	// to presign part URLs without reading it again; default 1 min,
	// negative: never (every Parts call reads the session).
	SessionCache time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MinPartSize < S3MinPart {
		l.MinPartSize = DefaultMinPartSize
	}
	if l.MaxFileSize <= 0 || l.MaxFileSize > S3MaxObject {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.SessionTTL <= 0 || l.SessionTTL > MaxSessionTTL {
		l.SessionTTL = MaxSessionTTL
	}
	if l.PartURLTTL <= 0 {
		l.PartURLTTL = 15 * time.Minute
	}
	if l.FirstBatch <= 0 {
		l.FirstBatch = 100
	}
	if l.MaxBatch <= 0 {
		l.MaxBatch = 1000
	}
	if l.SessionCache == 0 {
		l.SessionCache = time.Minute
	}
	return l
}

// Service implements upload sessions.
type Service struct {
	// Entities resolves attach targets; nil refuses them.
	Entities entities.Resolver

	store  Store
	blobs  Blobs
	limits Limits
	clock  clock.Func
	log    *slog.Logger
	cache  *sessionCache
}

// NewService wires a service; now may be nil (time.Now).
func NewService(store Store, blobs Blobs, limits Limits, now clock.Func, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	l := limits.withDefaults()
	return &Service{store: store, blobs: blobs, limits: l, clock: now, log: log,
		cache: newSessionCache(l.SessionCache, DefaultSessionCacheEntries)}
}

// Limits reports the effective limits.
func (s *Service) Limits() Limits { return s.limits }

// OpenInput is a request to open a session.
type OpenInput struct {
	FileName    string
	FileSize    int64
	ContentType string
	FileUUID    string // set: a new version of this file
	Checksum    *Checksum
	Attach      []AttachTarget
	// PartSize, when set, is the client's part size (instead of the
	// server's plan): Uppy cuts files itself.
	PartSize int64
	// Post asks for a single browser form upload (a presigned POST policy)
	// instead of a multipart upload. Its completion is recorded when S3
	// reports the object (RecordObject), or by Complete.
	Post bool
}

// AttachTarget asks completion to attach the file to an entity.
type AttachTarget struct {
	EntityType string `json:"entity_type"`
	EntityID   string `json:"entity_id"`
	Kind       string `json:"kind,omitempty"`
	NoteID     string `json:"note_id,omitempty"`
	FieldID    string `json:"field_id,omitempty"`
}

// MaxAttach bounds the attach targets of one session.
const MaxAttach = 10

// PartURL is one presigned part upload.
type PartURL struct {
	Number    int
	Size      int64
	Request   SignedRequest
	ExpiresAt time.Time
}

// Opened is the result of Open.
type Opened struct {
	Session Session
	Parts   []PartURL
	Post    *PostForm // Post sessions
}

// PostPolicyTTL is how long a form upload's POST policy is valid. A
// browser posts right after it asks for the policy (Uppy fetches it just
// before each upload), and S3 checks the expiry when the POST begins, so a
// slow upload is not cut off. A policy replayed within this window cannot
// lose data: the recorder deletes every version the file does not record.
const PostPolicyTTL = 5 * time.Minute

// MaxPostSize bounds a form upload (S3 takes 5 GiB in one request; Uppy
// switches to multipart at 100 MB by default).
const MaxPostSize = 5 * GiB

func (s *Service) validateOpen(in OpenInput) (string, error) {
	var errs apperr.Fields
	if err := files.ValidateName("file_name", in.FileName); err != nil {
		e, _ := apperr.As(err)
		errs = append(errs, e.Fields...)
	}
	switch {
	case in.FileSize < 0:
		errs.Add("file_size", "must not be negative")
	case in.FileSize > s.limits.MaxFileSize:
		errs.Add("file_size", fmt.Sprintf("must be at most %d bytes (the maximum file size)", s.limits.MaxFileSize))
	}
	mt, err := files.MimeType(in.ContentType, in.FileName)
	if err != nil {
		errs.Add("content_type", "must be a media type such as application/pdf")
	}
	if in.FileUUID != "" {
		if err := ids.Check("file_uuid", in.FileUUID); err != nil {
			errs.Add("file_uuid", "must be a UUID")
		}
	}
	if err := validateChecksum(in.Checksum); err != nil {
		e, _ := apperr.As(err)
		errs = append(errs, e.Fields...)
	}
	if len(in.Attach) > MaxAttach {
		errs.Add("attach", fmt.Sprintf("at most %d entities", MaxAttach))
	}
	return mt, errs.Err()
}

// attachments validates and resolves the attach targets (registering
// entities named by UUID that the directory does not know yet).
func (s *Service) attachments(ctx context.Context, p auth.Principal, targets []AttachTarget) ([]entities.Attachment, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	var errs apperr.Fields
	refs := make([]entities.Ref, len(targets))
	specs := make([]entities.Spec, len(targets))
	seen := map[string]bool{}
	for i, t := range targets {
		prefix := "attach[" + strconv.Itoa(i) + "]"
		n := len(errs)
		typ, err := entities.ParseType(prefix+".entity_type", t.EntityType)
		if err == nil {
			refs[i], err = entities.ParseRef(typ, prefix+".entity_id", t.EntityID)
		}
		if e, ok := apperr.As(err); ok {
			errs = append(errs, e.Fields...)
		}
		specs[i] = entities.Spec{FileUUID: "00000000-0000-0000-0000-000000000000", Kind: entities.Kind(t.Kind), NoteID: t.NoteID, FieldID: t.FieldID}
		specs[i].Validate(prefix, &errs)
		key := refs[i].String() + "#" + string(specs[i].Kind) + "#" + specs[i].RefID()
		if len(errs) == n && seen[key] {
			errs.Add(prefix, "duplicate attach target")
		}
		seen[key] = true
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if s.Entities == nil {
		return nil, apperr.Invalid("attach", "attachments are not available on this deployment")
	}
	out := make([]entities.Attachment, len(targets))
	for i, r := range refs {
		e, err := s.Entities.Resolve(ctx, p, r, true)
		if err != nil {
			if ae, ok := apperr.As(err); ok && ae.Kind == apperr.KindNotFound {
				return nil, ae.With("field", "attach["+strconv.Itoa(i)+"].entity_id")
			}
			return nil, err
		}
		out[i] = entities.Attachment{Entity: entities.Ref{Type: e.Type, UUID: e.UUID}, Kind: specs[i].Kind, RefID: specs[i].RefID()}
	}
	return out, nil
}

// Open validates, reserves, creates the S3 multipart upload and records the
// session. AWS requests: 1 DynamoDB read/update, 1 S3 create, 1 DynamoDB put.
func (s *Service) Open(ctx context.Context, p auth.Principal, in OpenInput) (Opened, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return Opened{}, err
	}
	mimeType, err := s.validateOpen(in)
	if err != nil {
		return Opened{}, err
	}
	var plan Plan
	switch {
	case in.Post:
		if in.FileSize > MaxPostSize {
			return Opened{}, apperr.Invalid("file_size", "a form upload takes at most 5 GiB; use a multipart upload")
		}
		plan = Plan{Size: in.FileSize, PartSize: max(in.FileSize, 1), PartCount: 1}
	case in.PartSize > 0:
		plan, err = PlanWithPartSize(in.FileSize, in.PartSize)
	default:
		plan, err = NewPlan(in.FileSize, s.limits.MinPartSize)
	}
	if err != nil {
		return Opened{}, err
	}
	attach, err := s.attachments(ctx, p, in.Attach)
	if err != nil {
		return Opened{}, err
	}
	now := s.clock.Now()
	sess := Session{AccountID: p.AccountID, ID: uuid.NewString(), VersionUUID: mustV7(), FileName: in.FileName,
		MimeType: mimeType, Plan: plan, Checksum: in.Checksum, Status: StatusOpen, CreatedAt: now,
		ExpiresAt: now.Add(s.limits.SessionTTL), CreatedBy: p.Name, TokenID: p.TokenID, Attach: attach}
	var usage files.Usage
	if in.FileUUID != "" {
		f, u, err := s.store.FileWithUsage(ctx, p.AccountID, in.FileUUID)
		if errors.Is(err, apperr.ErrNotFound) {
			return Opened{}, apperr.New(apperr.KindNotFound, "file_not_found", "no file "+in.FileUUID+" in this account").With("field", "file_uuid")
		}
		if err != nil {
			return Opened{}, err
		}
		if f.IsTrashed {
			return Opened{}, apperr.New(apperr.KindConflict, "file_trashed", "file "+in.FileUUID+" is in the trash; restore it before adding a version")
		}
		sess.FileUUID, sess.FileID, usage = f.UUID, f.ID, u
	} else {
		id, u, err := s.store.ReserveFileID(ctx, p.AccountID)
		if err != nil {
			return Opened{}, err
		}
		sess.FileUUID, sess.FileID, sess.NewFile, usage = mustV7(), id, true, u
	}
	if usage.QuotaBytes > 0 && usage.UsedBytes+plan.Size > usage.QuotaBytes {
		return Opened{}, quotaError(usage, plan.Size)
	}
	sess.Key = files.ObjectKey(p.AccountID, sess.FileUUID, sess.VersionUUID)
	if in.Post {
		return s.openPost(ctx, sess)
	}
	if plan.PartCount == 0 {
		return s.openEmpty(ctx, sess)
	}
	alg := ""
	if in.Checksum != nil {
		alg = in.Checksum.Algorithm
	}
	sess.UploadID, err = s.blobs.CreateUpload(ctx, sess.Key, mimeType, alg)
	if err != nil {
		return Opened{}, fmt.Errorf("create multipart upload: %w", err)
	}
	if err := s.store.PutSession(ctx, sess); err != nil {
		// Without a session nobody can reach this upload: release it now
		// (the bucket's lifecycle rule would in a day anyway).
		if aerr := s.blobs.AbortUpload(context.WithoutCancel(ctx), sess.Key, sess.UploadID); aerr != nil {
			s.log.WarnContext(ctx, "abort orphan upload", "err", aerr, "upload_id", sess.UploadID)
		}
		return Opened{}, fmt.Errorf("put session: %w", err)
	}
	first := make([]int, 0, min(plan.PartCount, s.limits.FirstBatch))
	for n := 1; n <= plan.PartCount && len(first) < s.limits.FirstBatch; n++ {
		first = append(first, n)
	}
	var parts []PartURL
	if in.Checksum == nil { // with checksums, part URLs need each part's CRC: ask via Parts
		if parts, err = s.sign(ctx, sess, first, nil, now); err != nil {
			return Opened{}, err
		}
	}
	return Opened{Session: sess, Parts: parts}, nil
}

// openPost records a form-upload session and signs its POST policy. Its
// id is the version uuid, so the object's key names the session.
func (s *Service) openPost(ctx context.Context, sess Session) (Opened, error) {
	if sess.Checksum != nil {
		return Opened{}, apperr.Invalid("checksum", "form uploads take no checksum; use a multipart upload")
	}
	sess.ID = sess.VersionUUID
	form, err := s.blobs.PresignPost(ctx, sess.Key, sess.MimeType, sess.Plan.Size, PostPolicyTTL)
	if err != nil {
		return Opened{}, fmt.Errorf("presign post: %w", err)
	}
	if err := s.store.PutSession(ctx, sess); err != nil {
		return Opened{}, fmt.Errorf("put session: %w", err)
	}
	return Opened{Session: sess, Post: &form}, nil
}

// openEmpty records an empty file's session: nothing to upload, no
// multipart upload; completion stores the empty object.
func (s *Service) openEmpty(ctx context.Context, sess Session) (Opened, error) {
	if c := sess.Checksum; c != nil {
		want := crc.Empty(c.Algorithm)
		if c.Value != "" && c.Value != want {
			return Opened{}, apperr.Invalid("checksum.value", "the "+c.Algorithm+" of an empty file is "+want)
		}
		sess.Checksum = &Checksum{Algorithm: c.Algorithm, Value: want}
	}
	if err := s.store.PutSession(ctx, sess); err != nil {
		return Opened{}, fmt.Errorf("put session: %w", err)
	}
	return Opened{Session: sess}, nil
}

// storeEmpty stores an empty file's object once: a retry or a concurrent
// completion finds the one already there.
func (s *Service) storeEmpty(ctx context.Context, sess Session) (string, error) {
	for range 2 {
		obj, err := s.blobs.Head(ctx, sess.Key)
		switch {
		case err == nil && obj.Size == 0 && obj.VersionID != "":
			return obj.VersionID, nil
		case err == nil:
			return "", fmt.Errorf("object %s holds %d bytes for an empty file", sess.Key, obj.Size)
		case !errors.Is(err, apperr.ErrNotFound):
			return "", fmt.Errorf("head object: %w", err)
		}
		v, err := s.blobs.PutEmpty(ctx, sess.Key, sess.MimeType)
		if !errors.Is(err, apperr.ErrConflict) {
			return v, err
		}
	}
	return "", errCompletionInProgress()
}

// RecordObject records a form upload S3 reported (an ObjectCreated event
// for one version of key), and keeps every byte in the bucket accounted
// for: a version no file records (a POST policy replayed after the file
// was recorded, after an abort or a quota refusal, or the loser of two
// POSTs) is deleted, which makes the recorded version current again. Keys
// that are not form uploads are ignored; a second report changes nothing.
func (s *Service) RecordObject(ctx context.Context, key, versionID string) error {
	account, _, version, ok := files.ParseObjectKey(key)
	if !ok {
		return nil
	}
	sess, err := s.store.GetSession(ctx, account, version)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil // a multipart upload's object, or not ours
	}
	if err != nil || !sess.form() || sess.Key != key {
		return err
	}
	if sess.Status == StatusOpen {
		_, err = s.recordPost(ctx, sess, s.clock.Now())
		if k := apperr.KindOf(err); err != nil && k != apperr.KindConflict && k != apperr.KindQuota {
			return err
		}
		// recorded, or refused (answered to the client that asks)
		if sess, err = s.store.GetSession(ctx, account, version); err != nil {
			return err
		}
	}
	return s.dropUnrecorded(ctx, sess, versionID)
}

// dropUnrecorded deletes versionID of a form upload's key unless it is the
// version its file records.
func (s *Service) dropUnrecorded(ctx context.Context, sess Session, versionID string) error {
	keep, err := s.keptVersion(ctx, sess)
	if err != nil || keep == anyVersion || keep != "" && keep == versionID {
		return err
	}
	return s.dropVersion(ctx, sess, versionID)
}

// anyVersion: every version of the key stays (nothing is recorded yet, or
// the record cannot tell which version it is).
const anyVersion = "*"

// keptVersion is the one version of a form upload's key to keep: the one
// its file records, none ("") if the session was aborted or the file
// purged, or anyVersion.
func (s *Service) keptVersion(ctx context.Context, sess Session) (string, error) {
	switch sess.Status {
	case StatusOpen:
		return anyVersion, nil // not recorded yet: its status call or completion will
	case StatusCompleted:
		v, err := s.store.GetVersion(ctx, sess.AccountID, sess.FileUUID, sess.VersionUUID)
		switch {
		case errors.Is(err, apperr.ErrNotFound): // purged since
			return "", nil
		case err != nil:
			return "", err
		case v.S3Version == "": // cannot tell which is recorded
			return anyVersion, nil
		}
		return v.S3Version, nil
	}
	return "", nil
}

func (s *Service) dropVersion(ctx context.Context, sess Session, versionID string) error {
	if versionID == "" {
		return fmt.Errorf("object %s reported without a version id: is the bucket versioned?", sess.Key)
	}
	if err := s.blobs.DeleteVersion(ctx, sess.Key, versionID); err != nil && !errors.Is(err, apperr.ErrNotFound) {
		return fmt.Errorf("delete unrecorded version: %w", err)
	}
	s.log.WarnContext(ctx, "deleted an unrecorded object version", "key", sess.Key, "version_id", versionID, "session_status", string(sess.Status))
	return nil
}

// recordPost completes a form upload from the object S3 holds.
func (s *Service) recordPost(ctx context.Context, sess Session, now time.Time) (files.File, error) {
	obj, err := s.blobs.Head(ctx, sess.Key)
	switch {
	case errors.Is(err, apperr.ErrNotFound):
		return files.File{}, apperr.New(apperr.KindConflict, "parts_missing", "the file has not been uploaded yet").With("missing_parts", []int{1})
	case err != nil:
		return files.File{}, fmt.Errorf("head object: %w", err)
	case obj.Size != sess.Plan.Size: // the policy makes this impossible
		return s.discard(ctx, sess, obj.VersionID, apperr.New(apperr.KindConflict, "size_mismatch", "the uploaded object's size differs from the session's"))
	}
	return s.commit(ctx, sess, obj.VersionID, now)
}

func quotaError(u files.Usage, size int64) error {
	return apperr.New(apperr.KindQuota, "quota_exceeded",
		fmt.Sprintf("this upload of %d bytes would exceed the account quota (%d of %d bytes used)", size, u.UsedBytes, u.QuotaBytes)).
		With("used_bytes", u.UsedBytes).With("quota_bytes", u.QuotaBytes)
}

func mustV7() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// Session reads a session of the principal's account (one GetItem).
func (s *Service) Session(ctx context.Context, p auth.Principal, id string) (Session, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return Session{}, err
	}
	return s.session(ctx, p, id)
}

// session loads a session of the principal's account; other accounts' ids
// are simply not found.
func (s *Service) session(ctx context.Context, p auth.Principal, id string) (Session, error) {
	if err := ids.Check("id", id); err != nil {
		return Session{}, err
	}
	sess, err := s.store.GetSession(ctx, p.AccountID, id)
	if errors.Is(err, apperr.ErrNotFound) {
		return Session{}, apperr.New(apperr.KindNotFound, "session_not_found", "no upload session "+id+" in this account")
	}
	return sess, err
}

// checkOpen refuses a session that can no longer take parts or complete.
func checkOpen(sess Session, now time.Time) error {
	switch sess.StatusAt(now) {
	case StatusExpired:
		return apperr.New(apperr.KindGone, "session_expired", "the session expired at "+sess.ExpiresAt.Format(time.RFC3339)+"; open a new one")
	case StatusAborted:
		return apperr.New(apperr.KindConflict, "session_aborted", "the session was aborted")
	case StatusCompleted:
		return apperr.New(apperr.KindConflict, "session_completed", "the session is already completed")
	}
	return nil
}

// PartsInput asks for presigned URLs for some parts.
type PartsInput struct {
	PartNumbers []int
	Checksums   map[string]string
}

// Parts presigns part URLs. AWS requests: none while this process has the
// open session cached (see sessionCache), else one DynamoDB read; signing
// is local.
func (s *Service) Parts(ctx context.Context, p auth.Principal, id string, in PartsInput) (Session, []PartURL, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return Session{}, nil, err
	}
	if len(in.PartNumbers) == 0 {
		return Session{}, nil, apperr.Invalid("part_numbers", "list at least one part number")
	}
	if len(in.PartNumbers) > s.limits.MaxBatch {
		return Session{}, nil, apperr.Invalid("part_numbers", fmt.Sprintf("at most %d part numbers per request", s.limits.MaxBatch))
	}
	now := s.clock.Now()
	sess, cached := s.cache.get(p.AccountID, id, now)
	if !cached {
		var err error
		if sess, err = s.session(ctx, p, id); err != nil {
			return Session{}, nil, err
		}
		s.cache.put(sess, now)
	}
	if err := checkOpen(sess, now); err != nil {
		return Session{}, nil, err
	}
	switch {
	case sess.empty():
		return Session{}, nil, apperr.New(apperr.KindConflict, "no_parts", "an empty file has no parts to upload; complete the session")
	case sess.form():
		return Session{}, nil, apperr.New(apperr.KindConflict, "form_upload", "this session is a form upload (one POST); it has no parts to sign")
	}
	var errs apperr.Fields
	seen := map[int]bool{}
	for i, n := range in.PartNumbers {
		switch {
		case n < 1 || n > sess.Plan.PartCount:
			errs.Add("part_numbers["+strconv.Itoa(i)+"]", fmt.Sprintf("must be between 1 and %d (the session's part_count)", sess.Plan.PartCount))
		case seen[n]:
			errs.Add("part_numbers["+strconv.Itoa(i)+"]", "duplicate part number "+strconv.Itoa(n))
		}
		seen[n] = true
	}
	for k := range in.Checksums {
		n, err := strconv.Atoi(k)
		if err != nil || !seen[n] {
			errs.Add("checksums."+k, "must be keyed by one of the requested part numbers")
		}
	}
	if sess.Checksum != nil {
		for _, n := range in.PartNumbers {
			v, ok := in.Checksums[strconv.Itoa(n)]
			if !ok {
				errs.Add(partField(n), "this session verifies a "+sess.Checksum.Algorithm+" checksum: send each part's "+sess.Checksum.Algorithm)
			} else if err := ValidateChecksumValue(partField(n), sess.Checksum.Algorithm, v); err != nil {
				e, _ := apperr.As(err)
				errs = append(errs, e.Fields...)
			}
		}
	} else if len(in.Checksums) > 0 {
		errs.Add("checksums", "this session was opened without a checksum; part checksums need one")
	}
	if err := errs.Err(); err != nil {
		return Session{}, nil, err
	}
	urls, err := s.sign(ctx, sess, in.PartNumbers, in.Checksums, now)
	return sess, urls, err
}

func (s *Service) sign(ctx context.Context, sess Session, numbers []int, sums map[string]string, now time.Time) ([]PartURL, error) {
	ttl := min(s.limits.PartURLTTL, sess.ExpiresAt.Sub(now))
	alg := ""
	if sess.Checksum != nil {
		alg = sess.Checksum.Algorithm
	}
	out := make([]PartURL, 0, len(numbers))
	for _, n := range numbers {
		req, err := s.blobs.PresignPart(ctx, sess.Key, sess.UploadID, int32(n), sess.Plan.PartLen(n), alg, sums[strconv.Itoa(n)], ttl)
		if err != nil {
			return nil, fmt.Errorf("presign part %d: %w", n, err)
		}
		out = append(out, PartURL{Number: n, Size: sess.Plan.PartLen(n), Request: req, ExpiresAt: now.Add(ttl).Truncate(time.Second)})
	}
	return out, nil
}

// State is what a client needs to resume.
type State struct {
	Session Session
	Status  Status
	Parts   []Part // uploaded, from S3
	File    *files.File
	// CompletionError is why a session whose parts are all in could not
	// complete itself (a checksum mismatch, the quota): what the client's
	// own completion would have answered.
	CompletionError error
}

// Status reports a session, reading uploaded parts from S3 while it is
// open, and tells the truth in every state. A session that needs nothing
// more closes itself here, as Kommo's sessions do once the file is fully
// uploaded: every part is in, it is an empty file, S3 holds the assembled
// object a crashed completion did not record, or a form upload's object
// is there. The answer then carries the file.
func (s *Service) Status(ctx context.Context, p auth.Principal, id string) (State, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return State{}, err
	}
	sess, err := s.session(ctx, p, id)
	if err != nil {
		return State{}, err
	}
	return s.settle(ctx, sess, s.clock.Now())
}

// settle reports a session as it is at now, completing it if it needs
// nothing more.
func (s *Service) settle(ctx context.Context, sess Session, now time.Time) (State, error) {
	var err error
	st := State{Session: sess, Status: sess.StatusAt(now)}
	switch st.Status {
	case StatusCompleted:
		var f files.File
		if f, err = s.store.GetFile(ctx, sess.AccountID, sess.FileUUID); err == nil {
			st.File = &f
		} else if errors.Is(err, apperr.ErrNotFound) {
			err = nil
		}
		return st, err
	case StatusOpen:
	default:
		return st, nil
	}
	switch {
	case sess.form():
		// the POST's event may lag: record it if S3 holds the object
		if f, err := s.recordPost(ctx, sess, now); err == nil {
			st.Status, st.File = StatusCompleted, &f
		} else if apperr.KindOf(err) != apperr.KindConflict {
			return State{}, err
		}
		return st, nil
	case sess.empty():
		return s.closeItself(ctx, st, now)
	}
	st.Parts, err = s.blobs.ListParts(ctx, sess.Key, sess.UploadID)
	switch {
	case errors.Is(err, apperr.ErrNoSuchUpload):
		// S3 assembled it and the completion did not record it (it
		// crashed, or it is running now), or it was just aborted.
		st.Parts = nil
		return s.closeItself(ctx, st, now)
	case err != nil:
		return State{}, fmt.Errorf("list parts: %w", err)
	case verifyParts(sess.Plan, st.Parts, nil) == nil:
		return s.closeItself(ctx, st, now)
	}
	return st, nil
}

// A session is first looked at by the sweeper SettleAfter after it opened
// (by then a client that meant to complete it has, and a form upload's POST
// policy has expired), then every SettleEvery (the sweeper runs hourly)
// until it is closed or expired.
const (
	SettleAfter = 15 * time.Minute
	SettleEvery = 50 * time.Minute
	SettleBatch = 100
)

// Settle is the sweeper's pass over sessions. Each one due that is open
// is completed if it needs nothing more (every part uploaded but never
// completed: the client died after its last part), else looked at again
// later. One that is closed (completed, aborted) or expired leaves the
// index, a form upload's after an audit of its key: any object version its
// file does not record is deleted (a POST whose event the recorder never
// got), so every byte in the bucket is accounted for. AWS requests per
// look: one ListParts (a page per 1,000 parts) or one HeadObject for a
// form upload, a completion's when it completes, one ListObjectVersions
// for a form upload's audit, and one UpdateItem. Returns how many sessions
// it looked at.
func (s *Service) Settle(ctx context.Context) (int, error) {
	now := s.clock.Now()
	due, err := s.store.DueSessions(ctx, now, SettleBatch)
	if err != nil {
		return 0, err
	}
	for i, sess := range due {
		next := time.Time{}
		if sess.StatusAt(now) == StatusOpen {
			st, err := s.settle(ctx, sess, now)
			switch {
			case err != nil: // looked at again next time; the others go on
				s.log.ErrorContext(ctx, "settle session", "account", sess.AccountID, "session", sess.ID, "err", err)
				st.Status = StatusOpen
			case st.Status == StatusCompleted:
				s.log.InfoContext(ctx, "completed an upload its client never completed", "account", sess.AccountID, "session", sess.ID, "file", sess.FileUUID)
			}
			if st.Status == StatusOpen {
				next = now.Add(SettleEvery)
			}
		}
		if next.IsZero() && sess.form() {
			if err := s.audit(ctx, sess, now); err != nil {
				s.log.ErrorContext(ctx, "audit form upload", "account", sess.AccountID, "session", sess.ID, "err", err)
				next = now.Add(SettleEvery)
			}
		}
		var rec *outbox.Record
		if next.IsZero() && sess.StatusAt(now) == StatusExpired {
			rec = outbox.NewRecord(sess.AccountID, s.clock.Now()).Add(outbox.SessionExpired, outbox.SessionData{ID: sess.ID,
				FileUUID: sess.FileUUID, VersionUUID: sess.VersionUUID, NewFile: sess.NewFile, FileName: sess.FileName,
				FileSize: sess.Plan.Size, ExpiresAt: sess.ExpiresAt})
		}
		if err := s.store.RescheduleSession(ctx, sess.AccountID, sess.ID, next, rec); err != nil {
			return i, err
		}
	}
	return len(due), nil
}

// audit deletes every version of a closed form upload's key that its file
// does not record (all of them if it was aborted or expired unrecorded).
func (s *Service) audit(ctx context.Context, sess Session, now time.Time) error {
	cur, err := s.store.GetSession(ctx, sess.AccountID, sess.ID)
	if err != nil {
		return err
	}
	if cur.StatusAt(now) == StatusExpired {
		cur.Status = StatusAborted // nothing records its object now
	}
	keep, err := s.keptVersion(ctx, cur)
	if err != nil || keep == anyVersion {
		return err
	}
	ids, err := s.blobs.Versions(ctx, cur.Key)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if id == keep {
			continue
		}
		if err := s.dropVersion(ctx, cur, id); err != nil {
			return err
		}
	}
	return nil
}

// closeItself completes a session from its status call: the file, or the
// session as it now is with the reason it could not complete.
func (s *Service) closeItself(ctx context.Context, st State, now time.Time) (State, error) {
	defer s.cache.forget(st.Session.AccountID, st.Session.ID)
	f, err := s.complete(ctx, st.Session, CompleteInput{}, now)
	if err == nil {
		st.Status, st.File, st.Parts = StatusCompleted, &f, nil
		return st, nil
	}
	if apperr.KindOf(err) == apperr.KindInternal {
		return State{}, err
	}
	cur, gerr := s.store.GetSession(ctx, st.Session.AccountID, st.Session.ID)
	if gerr != nil {
		return State{}, gerr
	}
	st.Session, st.Status, st.CompletionError = cur, cur.StatusAt(now), err
	if st.Status == StatusCompleted { // by a concurrent request
		st.CompletionError, st.Parts = nil, nil
		if f, err := s.completedFile(ctx, cur); err == nil {
			st.File = &f
		}
	}
	return st, nil
}

// CompleteInput optionally lists the parts the client uploaded.
type CompleteInput struct {
	Parts []Part // Number and ETag
	// Checksum is the whole file's, for a session that declared only its
	// algorithm at open (optional: without it the part checksums S3
	// verified are combined into the whole-file value S3 checks).
	Checksum *Checksum
}

// Complete finishes the upload and records the file (or new version).
//
// Steps and what a retry after a crash between them does:
//  1. read session     — completed: return the recorded file (idempotent).
//  2. ListParts        — NoSuchUpload: an earlier attempt completed S3 already;
//     HeadObject finds the object and we go on to 4.
//  3. CompleteMultipartUpload — S3 verifies ETags and the whole-file checksum.
//  4. one DynamoDB transaction: session→completed, file, version, counters.
//     It is conditional on the session being open, so it happens once.
func (s *Service) Complete(ctx context.Context, p auth.Principal, id string, in CompleteInput) (files.File, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return files.File{}, err
	}
	defer s.cache.forget(p.AccountID, id)
	sess, err := s.session(ctx, p, id)
	if err != nil {
		return files.File{}, err
	}
	return s.complete(ctx, sess, in, s.clock.Now())
}

func (s *Service) complete(ctx context.Context, sess Session, in CompleteInput, now time.Time) (files.File, error) {
	if sess.Status == StatusCompleted {
		return s.completedFile(ctx, sess)
	}
	if err := sess.checkCompletionChecksum(in.Checksum); err != nil {
		return files.File{}, err
	}
	if sess.form() { // the object is there or not
		if sess.Status != StatusOpen {
			return files.File{}, checkOpen(sess, now)
		}
		return s.recordPost(ctx, sess, now)
	}
	if err := checkOpen(sess, now); err != nil {
		return files.File{}, err
	}
	if sess.empty() {
		v, err := s.storeEmpty(ctx, sess)
		if err != nil {
			return files.File{}, err
		}
		return s.commit(ctx, sess, v, now)
	}
	parts, err := s.blobs.ListParts(ctx, sess.Key, sess.UploadID)
	switch {
	case errors.Is(err, apperr.ErrNoSuchUpload):
		return s.commitStored(ctx, sess, in, now)
	case err != nil:
		return files.File{}, fmt.Errorf("list parts: %w", err)
	}
	if err := verifyParts(sess.Plan, parts, in.Parts); err != nil {
		// No parts at all: nothing was uploaded — or a concurrent
		// completion has just assembled them (some stores list an upload
		// being completed as empty). The object tells.
		if len(parts) > 0 {
			return files.File{}, err
		}
		if obj, herr := s.blobs.Head(ctx, sess.Key); herr != nil || obj.Size != sess.Plan.Size {
			return files.File{}, err
		}
		return s.commitStored(ctx, sess, in, now)
	}
	sum := sess.wholeChecksum(in.Checksum, parts)
	s3Version, err := s.blobs.CompleteUpload(ctx, sess.Key, sess.UploadID, parts, sum)
	switch {
	case errors.Is(err, apperr.ErrBadDigest):
		return files.File{}, errChecksumMismatch(sum.Algorithm)
	case errors.Is(err, apperr.ErrInvalidPart):
		return files.File{}, apperr.New(apperr.KindConflict, "parts_changed", "the parts changed while completing; check the session and retry")
	case errors.Is(err, apperr.ErrNoSuchUpload):
		// a concurrent completion won the S3 step: the object tells
		return s.commitStored(ctx, sess, in, now)
	case err != nil:
		return files.File{}, fmt.Errorf("complete multipart upload: %w", err)
	}
	sess.Checksum = sum // verified by S3
	if s3Version == "" || sum != nil && sum.Value == "" {
		// a retried completion may succeed without naming the version;
		// the value S3 computed itself is read back
		return s.commitStored(ctx, sess, in, now)
	}
	return s.commit(ctx, sess, s3Version, now)
}

func errChecksumMismatch(alg string) error {
	return apperr.New(apperr.KindUnprocessable, "checksum_mismatch",
		"S3 computed a different "+alg+" for the assembled file than the session declared; re-upload the parts").With("field", "checksum.value")
}

// checkCompletionChecksum validates the whole-file checksum a completion
// names: the session's algorithm, and its value if it declared one at
// open (a session that deferred its value takes it here).
func (sess Session) checkCompletionChecksum(c *Checksum) error {
	switch {
	case c == nil:
		return nil
	case sess.Checksum == nil:
		return apperr.Invalid("checksum", "this session was opened without a checksum; S3 cannot verify one now")
	case c.Algorithm != sess.Checksum.Algorithm:
		return apperr.Invalid("checksum.algorithm", "this session verifies a "+sess.Checksum.Algorithm)
	case c.Value == "":
		return apperr.Invalid("checksum.value", "is required (the base64 "+c.Algorithm+" of the whole file)")
	}
	if err := ValidateChecksumValue("checksum.value", c.Algorithm, c.Value); err != nil {
		return err
	}
	if sess.Checksum.Value != "" && c.Value != sess.Checksum.Value {
		return apperr.Invalid("checksum.value", "differs from the value this session declared at open")
	}
	return nil
}

// wholeChecksum is the whole-file checksum S3 verifies at completion: the
// value declared at open, else the one the completion gives, else (a
// session completing itself, or a client that left it to the server) the
// combination of the part checksums S3 verified as each part arrived. A
// store that lists no part checksums (S3 always does) gets the algorithm
// alone and computes the value itself.
func (sess Session) wholeChecksum(given *Checksum, parts []Part) *Checksum {
	switch {
	case sess.Checksum == nil:
		return nil
	case sess.Checksum.Value != "":
		return sess.Checksum
	case given != nil:
		return given
	}
	pieces := make([]crc.Piece, len(parts))
	for i, p := range parts {
		pieces[i] = crc.Piece{Value: p.Checksum, Size: p.Size}
	}
	v, _ := crc.Combine(sess.Checksum.Algorithm, pieces)
	return &Checksum{Algorithm: sess.Checksum.Algorithm, Value: v}
}

// commitStored records the object S3 already assembled for this session
// (an earlier attempt completed S3 and crashed before the table, or a
// concurrent one is doing so). A session that deferred its checksum
// records the value S3 verified, which a completion's own value must
// match.
func (s *Service) commitStored(ctx context.Context, sess Session, in CompleteInput, now time.Time) (files.File, error) {
	obj, err := s.alreadyStored(ctx, sess)
	if err != nil {
		return s.afterVanished(ctx, sess, err)
	}
	if c := sess.Checksum; c != nil && c.Value == "" && obj.ChecksumAlg == c.Algorithm {
		if in.Checksum != nil && in.Checksum.Value != obj.Checksum {
			return files.File{}, errChecksumMismatch(c.Algorithm)
		}
		sess.Checksum = &Checksum{Algorithm: c.Algorithm, Value: obj.Checksum}
	}
	return s.commit(ctx, sess, obj.VersionID, now)
}

// alreadyStored handles a vanished multipart upload: an earlier attempt
// completed it (the object exists), a concurrent one is completing it right
// now (wait for it briefly), or it was aborted.
func (s *Service) alreadyStored(ctx context.Context, sess Session) (Object, error) {
	for attempt := 0; ; attempt++ {
		obj, err := s.blobs.Head(ctx, sess.Key)
		if err == nil && obj.Size == sess.Plan.Size && obj.VersionID != "" {
			return obj, nil
		}
		if err == nil && obj.VersionID == "" {
			err = apperr.ErrNotFound // not all there yet: no version named
		}
		if err != nil && !errors.Is(err, apperr.ErrNotFound) {
			return Object{}, fmt.Errorf("head object: %w", err)
		}
		cur, err := s.store.GetSession(ctx, sess.AccountID, sess.ID)
		if err != nil {
			return Object{}, err
		}
		switch {
		case cur.Status == StatusCompleted:
			return Object{}, errCompletedMeanwhile
		case cur.Status == StatusAborted:
			return Object{}, apperr.New(apperr.KindConflict, "session_aborted", "the session was aborted")
		case attempt >= completionPolls:
			return Object{}, errCompletionInProgress()
		}
		select {
		case <-ctx.Done():
			return Object{}, ctx.Err()
		case <-time.After(completionPoll):
		}
	}
}

// A concurrent completion is given about two seconds to land.
const (
	completionPolls = 10
	completionPoll  = 200 * time.Millisecond
)

var errCompletedMeanwhile = errors.New("completed by a concurrent request")

// errCompletionInProgress answers a completion another request is running.
func errCompletionInProgress() error {
	return apperr.New(apperr.KindConflict, "completion_in_progress",
		"another request is completing this session; retry in a moment").With("retry_after_seconds", 1)
}

func (s *Service) afterVanished(ctx context.Context, sess Session, err error) (files.File, error) {
	if errors.Is(err, errCompletedMeanwhile) {
		return s.completedFile(ctx, sess)
	}
	return files.File{}, err
}

func (s *Service) commit(ctx context.Context, sess Session, s3Version string, now time.Time) (files.File, error) {
	if s3Version == "" {
		// The bucket is versioned: S3 names every version it stores. Record
		// nothing a download or a purge could not name; the caller retries.
		return files.File{}, errCompletionInProgress()
	}
	var prev files.File
	if !sess.NewFile {
		var err error
		if prev, err = s.store.GetFile(ctx, sess.AccountID, sess.FileUUID); err != nil && !errors.Is(err, apperr.ErrNotFound) {
			return files.File{}, err
		} else if err != nil || prev.IsTrashed {
			return s.discard(ctx, sess, s3Version, apperr.New(apperr.KindConflict, "file_gone", "the file was trashed or deleted while uploading its new version"))
		}
	}
	f := sess.file(prev, now)
	v := sess.version(s3Version, now)
	attach := sess.attachments(f, now)
	err := s.store.Commit(ctx, Commit{Session: sess, File: f, Version: v, NewFile: sess.NewFile,
		Attach: attach, Events: completionRecord(sess, f, v, attach, s.clock.Now())})
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, ErrSessionNotOpen):
		cur, gerr := s.store.GetSession(ctx, sess.AccountID, sess.ID)
		if gerr == nil && cur.Status == StatusCompleted {
			return s.completedFile(ctx, cur) // a concurrent completion recorded it
		}
		return s.discard(ctx, sess, s3Version, apperr.New(apperr.KindConflict, "session_aborted", "the session was aborted while completing"))
	case errors.Is(err, apperr.ErrQuota):
		return s.discard(ctx, sess, s3Version, apperr.New(apperr.KindQuota, "quota_exceeded", "completing this upload would exceed the account quota; free space and upload again"))
	case errors.Is(err, ErrFileGone) && sess.NewFile:
		// A new file's uuid belongs to this session alone: it exists
		// because a concurrent completion of this session wrote it (an
		// emulator may show that write before the session's).
		return s.awaitCompleted(ctx, sess)
	case errors.Is(err, ErrFileGone):
		return s.discard(ctx, sess, s3Version, apperr.New(apperr.KindConflict, "file_gone", "the file was trashed or deleted while uploading its new version"))
	}
	return files.File{}, fmt.Errorf("commit: %w", err)
}

// completionRecord is the events of a completed upload: the new file or
// version, and the attachments its session asked for.
func completionRecord(sess Session, f files.File, v files.Version, attach []entities.Attachment, at time.Time) *outbox.Record {
	source := "session"
	if sess.form() {
		source = "form"
	}
	t := outbox.FileVersionCreated
	if sess.NewFile {
		t = outbox.FileCreated
	}
	rec := outbox.OfFile(t, f, &v, source, at)
	for _, a := range attach {
		rec.Add(outbox.FileAttached, a.EventData(&f))
	}
	return rec
}

// awaitCompleted waits briefly for a concurrent completion to be recorded.
func (s *Service) awaitCompleted(ctx context.Context, sess Session) (files.File, error) {
	for range completionPolls {
		cur, err := s.store.GetSession(ctx, sess.AccountID, sess.ID)
		if err != nil {
			return files.File{}, err
		}
		if cur.Status == StatusCompleted {
			return s.completedFile(ctx, cur)
		}
		select {
		case <-ctx.Done():
			return files.File{}, ctx.Err()
		case <-time.After(completionPoll):
		}
	}
	return files.File{}, errCompletionInProgress()
}

// discard undoes the S3 side of a completion that cannot be recorded, and
// closes the session so that retries answer the same error.
func (s *Service) discard(ctx context.Context, sess Session, s3Version string, cause *apperr.Error) (files.File, error) {
	ctx = context.WithoutCancel(ctx)
	if err := s.store.SetSessionStatus(ctx, sess.AccountID, sess.ID, StatusOpen, StatusAborted, s.clock.Now()); err != nil && !errors.Is(err, apperr.ErrConflict) {
		return files.File{}, err
	}
	if err := s.blobs.DeleteVersion(ctx, sess.Key, s3Version); err != nil && !errors.Is(err, apperr.ErrNotFound) {
		s.log.WarnContext(ctx, "discard uncommitted object", "err", err, "key", sess.Key)
	}
	return files.File{}, cause
}

func (s *Service) completedFile(ctx context.Context, sess Session) (files.File, error) {
	f, err := s.store.GetFile(ctx, sess.AccountID, sess.FileUUID)
	if errors.Is(err, apperr.ErrNotFound) {
		return files.File{}, apperr.New(apperr.KindGone, "file_gone", "the session completed but its file has since been deleted")
	}
	return f, err
}

// verifyParts checks what S3 holds against the plan and the client's list.
func verifyParts(plan Plan, have []Part, claimed []Part) error {
	var errs apperr.Fields
	byNum := make(map[int32]Part, len(have))
	for _, p := range have {
		byNum[p.Number] = p
	}
	var missing []int
	for n := 1; n <= plan.PartCount; n++ {
		p, ok := byNum[int32(n)]
		if !ok {
			missing = append(missing, n)
			continue
		}
		if want := plan.PartLen(n); p.Size != want {
			errs.Add("parts["+strconv.Itoa(n)+"]", fmt.Sprintf("part %d holds %d bytes, expected %d", n, p.Size, want))
		}
	}
	for _, p := range have {
		if p.Number < 1 || int(p.Number) > plan.PartCount {
			errs.Add("parts", fmt.Sprintf("unexpected part %d beyond part_count %d", p.Number, plan.PartCount))
		}
	}
	seen := map[int32]bool{}
	for i, c := range claimed {
		f := "parts[" + strconv.Itoa(i) + "]"
		p, ok := byNum[c.Number]
		switch {
		case c.Number < 1 || int(c.Number) > plan.PartCount:
			errs.Add(f+".part_number", fmt.Sprintf("must be between 1 and %d", plan.PartCount))
		case seen[c.Number]:
			errs.Add(f+".part_number", "duplicate part number")
		case !ok:
			// reported as missing below
		case c.ETag != "" && normETag(c.ETag) != normETag(p.ETag):
			errs.Add(f+".etag", fmt.Sprintf("part %d has ETag %s in storage, not %s", c.Number, p.ETag, c.ETag))
		}
		seen[c.Number] = true
	}
	if len(claimed) > 0 && len(claimed) != plan.PartCount {
		errs.Add("parts", fmt.Sprintf("list all %d parts or none", plan.PartCount))
	}
	if len(missing) > 0 {
		return apperr.New(apperr.KindConflict, "parts_missing",
			fmt.Sprintf("%d of %d parts are not uploaded yet", len(missing), plan.PartCount)).With("missing_parts", compress(missing))
	}
	return errs.Err()
}

func normETag(e string) string {
	if len(e) >= 2 && e[0] == '"' && e[len(e)-1] == '"' {
		return e[1 : len(e)-1]
	}
	return e
}

// compress caps a long list of part numbers for an error body.
func compress(ns []int) []int {
	slices.Sort(ns)
	if len(ns) > 100 {
		return ns[:100]
	}
	return ns
}

// Abort cancels an open (or expired) session and releases its parts.
// Status is recorded first, so a crash before the S3 abort is finished by a
// retry (or by the bucket's AbortIncompleteMultipartUpload rule).
func (s *Service) Abort(ctx context.Context, p auth.Principal, id string) error {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return err
	}
	defer s.cache.forget(p.AccountID, id)
	sess, err := s.session(ctx, p, id)
	if err != nil {
		return err
	}
	switch sess.Status {
	case StatusCompleted:
		return apperr.New(apperr.KindConflict, "session_completed", "the session is completed; trash the file instead")
	case StatusOpen:
		err := s.store.SetSessionStatus(ctx, p.AccountID, id, StatusOpen, StatusAborted, s.clock.Now())
		if errors.Is(err, apperr.ErrConflict) {
			return s.Abort(ctx, p, id) // raced with complete or abort: answer as of now
		}
		if err != nil {
			return err
		}
	}
	if sess.UploadID == "" { // a form upload: remove what was posted before the abort
		if obj, err := s.blobs.Head(ctx, sess.Key); err == nil {
			return s.blobs.DeleteVersion(ctx, sess.Key, obj.VersionID)
		}
		return nil
	}
	if err := s.blobs.AbortUpload(ctx, sess.Key, sess.UploadID); err != nil && !errors.Is(err, apperr.ErrNoSuchUpload) {
		return fmt.Errorf("abort multipart upload: %w", err)
	}
	return nil
}
