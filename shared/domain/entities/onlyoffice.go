package entities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// OnlyofficeTypes are the entity types ONLYOFFICE's attach route accepts.
var OnlyofficeTypes = []Type{Contact, Opportunity, Case}

// Event is the relationship event an attach by numeric ids produces.
type Event struct {
	ID      int64
	Created time.Time
	Entity  Entity
	Files   []files.File
	By      auth.Principal
}

// AttachByIDs attaches files named by their numeric ids to an entity named
// by its numeric code (ONLYOFFICE's POST /api/2.0/crm/{type}/{id}/files).
// All or nothing: every id must name an untrashed file of the account
// before anything is attached. Files are attached as media, so a retry
// attaches nothing twice; each call reports a new event number.
func (s *Service) AttachByIDs(ctx context.Context, p auth.Principal, t Type, code int64, ids []int64) (Event, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return Event{}, err
	}
	var errs apperr.Fields
	errs.Count("fileids", len(ids), MaxBatch, "file ids", "list at least one file id")
	seen := map[int64]bool{}
	for i, id := range ids {
		f := "fileids[" + strconv.Itoa(i) + "]"
		switch {
		case id < 1 || id > MaxCode:
			errs.Add(f, "must be a positive file id")
		case seen[id]:
			errs.Add(f, "duplicate file id")
		}
		seen[id] = true
	}
	if err := errs.Err(); err != nil {
		return Event{}, err
	}
	e, err := s.lookup(ctx, p.AccountID, Ref{Type: t, Code: code})
	if err != nil {
		return Event{}, err
	}
	uuids, err := s.Store.FileUUIDsByID(ctx, p.AccountID, ids)
	if err != nil {
		return Event{}, err
	}
	list := make([]string, 0, len(ids))
	for i, id := range ids {
		u, ok := uuids[id]
		if !ok {
			return Event{}, apperr.New(apperr.KindNotFound, "file_not_found", fmt.Sprintf("no file with id %d in this account", id)).With("field", "fileids["+strconv.Itoa(i)+"]")
		}
		list = append(list, u)
	}
	fs, err := s.Store.GetFiles(ctx, p.AccountID, list)
	if err != nil {
		return Event{}, err
	}
	byUUID := map[string]files.File{}
	for _, f := range fs {
		byUUID[f.UUID] = f
	}
	now := s.Clock.Now()
	ev := Event{Created: now, Entity: e, By: p}
	for i, id := range ids {
		f, ok := byUUID[uuids[id]]
		switch {
		case !ok || f.Gone(now):
			return Event{}, apperr.New(apperr.KindNotFound, "file_not_found", fmt.Sprintf("no file with id %d in this account", id)).With("field", "fileids["+strconv.Itoa(i)+"]")
		case f.IsTrashed:
			return Event{}, apperr.New(apperr.KindConflict, "file_trashed", fmt.Sprintf("file %d is in the trash; trashed files cannot be attached", id)).With("field", "fileids["+strconv.Itoa(i)+"]")
		case f.Scan.Status == files.ScanInfected:
			return Event{}, apperr.New(apperr.KindForbidden, "file_infected", fmt.Sprintf("file %d is infected: malware was found in it, so it cannot be attached", id)).With("field", "fileids["+strconv.Itoa(i)+"]")
		}
		ev.Files = append(ev.Files, f)
	}
	for _, f := range ev.Files {
		a := Attachment{Entity: e.Ref(), Title: e.Title, FileUUID: f.UUID, Kind: KindMedia, FileCreated: f.CreatedAt, AttachedAt: now, AttachedBy: p.Name}
		switch err := s.Store.Attach(ctx, p.AccountID, a, a.record(p.AccountID, outbox.FileAttached, &f)); {
		case err == nil, errors.Is(err, ErrAlreadyAttached):
		case errors.Is(err, ErrFileGone):
			return Event{}, apperr.New(apperr.KindConflict, "file_trashed", fmt.Sprintf("file %d was trashed meanwhile", f.ID))
		default:
			return Event{}, err
		}
	}
	if ev.ID, err = s.Store.NextSeq(ctx, p.AccountID, "event"); err != nil {
		return Event{}, err
	}
	return ev, nil
}
