package upload

// Aborting a session and its multipart upload.

import (
	"context"
	"errors"
	"fmt"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
)

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
