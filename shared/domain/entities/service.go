package entities

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// Errors a Store reports.
var (
	ErrCodeTaken = errors.New("code belongs to another entity")
	ErrStale     = errors.New("entity changed since it was read")
	ErrExists    = errors.New("entity exists")
	// Attach outcomes.
	ErrAlreadyAttached = errors.New("already attached")
	ErrFileGone        = errors.New("file trashed or deleted")
	ErrVersionGone     = errors.New("version not found")
)

// Store is the directory and attachment side of the metadata store.
type Store interface {
	GetEntity(ctx context.Context, accountID string, t Type, uuid string) (Entity, error)
	EntityByCode(ctx context.Context, accountID string, t Type, code int64) (Entity, error)
	// PutEntity creates e (prev nil: fails with ErrExists or ErrCodeTaken)
	// or replaces prev with e (fails with ErrStale or ErrCodeTaken).
	PutEntity(ctx context.Context, e Entity, prev *Entity) error
	// NextCode allocates a numeric code for an entity created without one.
	NextCode(ctx context.Context, accountID string, t Type) (int64, error)
	// Attach records a with its event record, conditional on the file
	// (and pinned version) existing untrashed. It fails with
	// ErrAlreadyAttached, ErrFileGone or ErrVersionGone.
	Attach(ctx context.Context, accountID string, a Attachment, rec *outbox.Record) error
	// Detach removes the attachments of a file to an entity (of one kind
	// and ref when kind is set), with the event record that record makes of
	// what it found there, and reports how many it removed.
	Detach(ctx context.Context, accountID string, a Attachment, record func([]Attachment) *outbox.Record) (int, error)
	// Usages lists a file's attachments.
	Usages(ctx context.Context, accountID, fileUUID string) ([]Attachment, error)
	GetFiles(ctx context.Context, accountID string, uuids []string) ([]files.File, error)
	// GetVersion reads one version (a field pinned to an older version is
	// refused when that version is infected).
	GetVersion(ctx context.Context, accountID, fileUUID, versionUUID string) (files.Version, error)
	// FileUUIDsByID resolves numeric file ids; unknown ids are absent.
	FileUUIDsByID(ctx context.Context, accountID string, ids []int64) (map[int64]string, error)
	// NextSeq allocates the next number of a per-account sequence.
	NextSeq(ctx context.Context, accountID, name string) (int64, error)
}

// Service runs the entity directory and attachments.
type Service struct {
	Store Store
	Clock clock.Func
}

// NotFound is the error for an unknown entity.
func NotFound(r Ref) error {
	return apperr.New(apperr.KindNotFound, "entity_not_found", "no "+r.String()+" in this account's entity directory; create it with PUT /v1/entities/"+string(r.Type)+"/{id}")
}

// Get reads an entity by reference.
func (s *Service) Get(ctx context.Context, p auth.Principal, r Ref) (Entity, error) {
	if err := p.Require(auth.ScopeRead); err != nil {
		return Entity{}, err
	}
	return s.lookup(ctx, p.AccountID, r)
}

func (s *Service) lookup(ctx context.Context, accountID string, r Ref) (Entity, error) {
	var e Entity
	var err error
	if r.UUID != "" {
		e, err = s.Store.GetEntity(ctx, accountID, r.Type, r.UUID)
	} else {
		e, err = s.Store.EntityByCode(ctx, accountID, r.Type, r.Code)
	}
	if errors.Is(err, apperr.ErrNotFound) {
		return Entity{}, NotFound(r)
	}
	return e, err
}

// Resolver finds the entity a reference names, registering it with
// register (Service.Resolve): what sessions, batches and entity listings
// ask of the directory.
type Resolver interface {
	Resolve(ctx context.Context, p auth.Principal, r Ref, register bool) (Entity, error)
}

// Resolve finds the entity a reference names. With register, an entity
// named by UUID that the directory does not know yet is registered (with a
// new code and no title): UUIDs are the CRM's identities. Codes are aliases
// and must be known.
func (s *Service) Resolve(ctx context.Context, p auth.Principal, r Ref, register bool) (Entity, error) {
	e, err := s.lookup(ctx, p.AccountID, r)
	if err == nil || !register || r.UUID == "" || apperr.KindOf(err) != apperr.KindNotFound {
		return e, err
	}
	e, _, err = s.create(ctx, p, r.Type, r.UUID, 0, "", false)
	if errors.Is(err, errRetry) {
		return s.lookup(ctx, p.AccountID, r)
	}
	return e, err
}

// UpsertInput changes an entity's title and/or code.
type UpsertInput struct {
	Title *string
	Code  *int64
}

// Upsert creates or updates a directory entry and reports whether it
// created it. Idempotent: the same request twice leaves one entry.
func (s *Service) Upsert(ctx context.Context, p auth.Principal, r Ref, in UpsertInput) (Entity, bool, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return Entity{}, false, err
	}
	var errs apperr.Fields
	if in.Title != nil {
		if err := ValidateText("title", *in.Title, MaxTitle, false); err != nil {
			e, _ := apperr.As(err)
			errs = append(errs, e.Fields...)
		}
	}
	if in.Code != nil && (*in.Code < 1 || *in.Code > MaxCode) {
		errs.Add("code", fmt.Sprintf("must be a numeric code from 1 to %d", int64(MaxCode)))
	}
	if in.Code != nil && r.UUID == "" && *in.Code != r.Code {
		errs.Add("code", "differs from the code in the path; to change a code, address the entity by UUID")
	}
	if err := errs.Err(); err != nil {
		return Entity{}, false, err
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.lookup(ctx, p.AccountID, r)
		if apperr.KindOf(err) == apperr.KindNotFound {
			id, code, title := r.UUID, r.Code, ""
			if id == "" {
				id = newUUID()
			}
			if in.Code != nil {
				code = *in.Code
			}
			if in.Title != nil {
				title = *in.Title
			}
			e, created, err := s.create(ctx, p, r.Type, id, code, title, r.UUID == "")
			if errors.Is(err, errRetry) && attempt < 3 {
				continue
			}
			return e, created, err
		}
		if err != nil {
			return Entity{}, false, err
		}
		next := cur
		if in.Title != nil {
			next.Title = *in.Title
		}
		if in.Code != nil {
			next.Code = *in.Code
		}
		if next == cur {
			return cur, false, nil
		}
		next.UpdatedAt, next.UpdatedBy = s.Clock.Now(), p.Name
		err = s.Store.PutEntity(ctx, next, &cur)
		switch {
		case errors.Is(err, ErrCodeTaken):
			return Entity{}, false, codeTaken(next)
		case errors.Is(err, ErrStale) && attempt < 3:
			continue
		case err != nil:
			return Entity{}, false, err
		}
		return next, false, nil
	}
}

var errRetry = errors.New("retry")

func codeTaken(e Entity) error {
	return apperr.New(apperr.KindConflict, "code_taken", fmt.Sprintf("%s code %d belongs to another %s", e.Type, e.Code, e.Type)).With("field", "code")
}

// create registers an entity; code 0 allocates one. A concurrent creation
// of the same UUID (or, byCode, of the same code) asks the caller to read
// the winner's entry again (errRetry) when this request would change it.
func (s *Service) create(ctx context.Context, p auth.Principal, t Type, id string, code int64, title string, byCode bool) (Entity, bool, error) {
	now := s.Clock.Now()
	e := Entity{AccountID: p.AccountID, Type: t, UUID: id, Code: code, Title: title, CreatedAt: now, UpdatedAt: now, CreatedBy: p.Name, UpdatedBy: p.Name}
	for tries := 0; ; tries++ {
		if code == 0 {
			n, err := s.Store.NextCode(ctx, p.AccountID, t)
			if err != nil {
				return Entity{}, false, err
			}
			e.Code = n
		}
		err := s.Store.PutEntity(ctx, e, nil)
		switch {
		case err == nil:
			return e, true, nil
		case errors.Is(err, ErrCodeTaken) && code == 0 && tries < 20:
			continue // a client chose this code for another entity: take the next
		case errors.Is(err, ErrCodeTaken) && byCode:
			return Entity{}, false, errRetry // created by a concurrent request: read it again
		case errors.Is(err, ErrCodeTaken):
			return Entity{}, false, codeTaken(e)
		case errors.Is(err, ErrExists):
			got, gerr := s.Store.GetEntity(ctx, p.AccountID, t, id)
			if gerr != nil {
				return Entity{}, false, gerr
			}
			return got, false, errRetryIf(got, code, title)
		default:
			return Entity{}, false, err
		}
	}
}

// errRetryIf asks Upsert to apply its changes to an entry a concurrent
// request created first.
func errRetryIf(got Entity, code int64, title string) error {
	if (code != 0 && got.Code != code) || (title != "" && got.Title != title) {
		return errRetry
	}
	return nil
}

func newUUID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
