package upload

// A session's status, read from storage, and the sweeper's pass that
// completes, expires and audits sessions.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

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
