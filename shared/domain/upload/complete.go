package upload

// Completion: the parts verified against the plan, the object completed and
// checked, and the file, version, usage and events recorded in one
// transaction; every step safe to retry.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/crc"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/requests"
)

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
	v := sess.version(s3Version, now)
	v.Scan = files.NewScan(s.Scanning, now)
	f := sess.file(prev, now)
	f.Scan = v.Scan
	c := Commit{Session: sess, File: f, Version: v, NewFile: sess.NewFile, Attach: sess.attachments(f, now)}
	var err error
	for try := 0; ; try++ {
		if err = s.receive(ctx, &c, now); err != nil {
			if ae, ok := apperr.As(err); ok {
				return s.discard(ctx, sess, s3Version, ae) // its file request has no room for it
			}
			return files.File{}, err
		}
		err = s.store.Commit(ctx, c)
		if !errors.Is(err, requests.ErrChanged) || try == maxReceiveTries-1 {
			break
		}
	}
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, requests.ErrChanged):
		return files.File{}, errCompletionInProgress() // nothing written: the client retries
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

// maxReceiveTries bounds the commits of an upload whose file request
// other uploads keep changing.
const maxReceiveTries = 10

// receive readies c's events and, for a session bound to a file request,
// the file's receipt on the request as it is now: attached as the request
// says, unless the deployment scans (then after its verdict:
// requests.Service.Settle). An apperr is the request refusing the file.
func (s *Service) receive(ctx context.Context, c *Commit, now time.Time) error {
	if c.Session.Request == nil {
		c.Events = completionRecord(c.Session, c.File, c.Version, c.Attach, s.clock.Now())
		return nil
	}
	r, err := s.store.GetRequest(ctx, c.Session.AccountID, c.Session.Request.ID)
	if errors.Is(err, apperr.ErrNotFound) {
		return apperr.New(apperr.KindGone, "request_not_found", "the file request this upload was for no longer exists")
	}
	if err != nil {
		return err
	}
	next, err := r.Receive(c.File, c.Version, s.Scanning, now)
	if err != nil {
		return err
	}
	next.Rev = r.Rev + 1
	c.Request = &requests.Write{Request: next, Prev: r.Rev}
	c.Attach = nil
	if !s.Scanning {
		c.Attach = []entities.Attachment{r.Attachment(c.File, c.Version, c.Session.CreatedBy, now)}
	}
	c.Events = completionRecord(c.Session, c.File, c.Version, c.Attach, s.clock.Now())
	rc := next.Received[len(next.Received)-1]
	c.Events.Add(outbox.FileRequestFileReceived, next.EventData(&rc, now))
	if r.FulfilledAt.IsZero() && !next.FulfilledAt.IsZero() {
		c.Events.Add(outbox.FileRequestFulfilled, next.EventData(nil, now))
	}
	return nil
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
