package upload

// Browser form uploads (POST policy): the object S3 reports is recorded, or
// dropped when it is not the session's.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/files"
)

// PostPolicyTTL is how long a form upload's POST policy is valid. A
// browser posts right after it asks for the policy (Uppy fetches it just
// before each upload), and S3 checks the expiry when the POST begins, so a
// slow upload is not cut off. A policy replayed within this window cannot
// lose data: the recorder deletes every version the file does not record.
const PostPolicyTTL = 5 * time.Minute

// MaxPostSize bounds a form upload (S3 takes 5 GiB in one request; Uppy
// switches to multipart at 100 MB by default).
const MaxPostSize = 5 * GiB

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
