package upload

// Opening a session: validation, the attachments asked for, the plan of
// parts, and the empty file, stored at once.

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/crc"
	"github.com/anexo/anexo/shared/base/ids"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
)

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
	// Relay opens a multipart upload whose parts the API uploads itself
	// (package relay): no part URLs are signed.
	Relay bool
	// Request binds the session to a file request (requests.Service.Admit
	// made it, with the principal that must open it).
	Request *files.Requested
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

// Opened is the result of Open.
type Opened struct {
	Session Session
	Parts   []PartURL
	Post    *PostForm // Post sessions
}

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

// checkRequest keeps a file request's uploader to what the request lets
// it do: new files, bound to that request, attached as it says.
func checkRequest(p auth.Principal, in OpenInput) error {
	switch {
	case p.FileRequest == "" && in.Request == nil:
		return nil
	case in.Request == nil || in.Request.ID != p.FileRequest:
		return apperr.New(apperr.KindForbidden, "request_mismatch", "a file request's uploads are bound to that request")
	case in.FileUUID != "" || len(in.Attach) > 0 || in.Post || in.Relay:
		return apperr.New(apperr.KindForbidden, "request_upload", "a file request's upload brings a new file, attached as the request says")
	}
	return nil
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
		specs[i] = entities.TargetSpec(prefix, t.Kind, t.NoteID, t.FieldID, &errs)
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
		out[i] = entities.Attachment{Entity: e.Ref(), Title: e.Title, Kind: specs[i].Kind, RefID: specs[i].RefID()}
	}
	return out, nil
}

// Open validates, reserves, creates the S3 multipart upload and records the
// session. AWS requests: 1 DynamoDB read/update, 1 S3 create, 1 DynamoDB put.
func (s *Service) Open(ctx context.Context, p auth.Principal, in OpenInput) (Opened, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return Opened{}, err
	}
	if err := checkRequest(p, in); err != nil {
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
		ExpiresAt: now.Add(s.limits.SessionTTL), CreatedBy: p.Name, TokenID: p.TokenID, Attach: attach, Request: in.Request}
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
	if in.Checksum == nil && !in.Relay { // with checksums, part URLs need each part's CRC: ask via Parts
		if parts, err = s.sign(ctx, sess, first, nil, now); err != nil {
			return Opened{}, err
		}
	}
	return Opened{Session: sess, Parts: parts}, nil
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
