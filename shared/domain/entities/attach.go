package entities

import (
	"context"
	"errors"
	"strconv"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// MaxBatch bounds the files of one attach or detach request.
const MaxBatch = 50

// MaxDetach bounds the attachments of one file to one entity that one
// detach removes (a transaction holds 100 items, its event record one);
// a file has a handful (media, a few notes and fields), and a second call
// removes any rest.
const MaxDetach = 99

// Result is the outcome for one requested attachment.
type Result struct {
	Spec       Spec
	Status     string // attached | already_attached | detached | not_attached | error
	File       *files.File
	Attachment *Attachment
	Err        error
}

// ValidateSpecs checks a batch of specs (field prefix "files").
func ValidateSpecs(specs []Spec) error {
	var errs apperr.Fields
	errs.Count("files", len(specs), MaxBatch, "files", "list at least one file")
	seen := map[string]bool{}
	for i := range specs {
		prefix := "files[" + strconv.Itoa(i) + "]"
		n := len(errs)
		specs[i].Validate(prefix, &errs)
		key := specs[i].FileUUID + "#" + string(specs[i].Kind) + "#" + specs[i].RefID()
		if len(errs) == n && seen[key] {
			errs.Add(prefix, "duplicate attachment")
		}
		seen[key] = true
	}
	return errs.Err()
}

func fileNotFound(u string) error {
	return apperr.New(apperr.KindNotFound, "file_not_found", "no file "+u+" in this account")
}

func fileTrashed(u string) error {
	return apperr.New(apperr.KindConflict, "file_trashed", "file "+u+" is in the trash; trashed files cannot be attached (restore it first)")
}

// Attach attaches files to an entity (registering an entity named by UUID
// that the directory does not know yet). Each attachment is one conditional
// write, so a retry of the whole request is safe: what is attached already
// answers already_attached.
func (s *Service) Attach(ctx context.Context, p auth.Principal, r Ref, specs []Spec) (Entity, []Result, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return Entity{}, nil, err
	}
	e, byUUID, err := s.prepare(ctx, p, r, specs, true)
	if err != nil {
		return Entity{}, nil, err
	}
	out := make([]Result, len(specs))
	for i, sp := range specs {
		res := Result{Spec: sp, Status: "attached"}
		f, ok := byUUID[sp.FileUUID]
		now := s.Clock.Now()
		switch {
		case !ok || f.Gone(now):
			res.Err = fileNotFound(sp.FileUUID)
		case f.IsTrashed:
			res.Err = fileTrashed(sp.FileUUID)
		case f.Scan.Status == files.ScanInfected:
			res.Err = files.Infected(f.UUID)
		case sp.VersionUUID != "" && sp.VersionUUID != f.VersionUUID && s.pinsInfected(ctx, p.AccountID, f.UUID, sp.VersionUUID):
			res.Err = files.Infected(f.UUID).With("field", "files["+strconv.Itoa(i)+"].version_uuid")
		default:
			a := Attachment{Entity: e.Ref(), Title: e.Title, FileUUID: f.UUID, Kind: sp.Kind, RefID: sp.RefID(),
				VersionUUID: sp.VersionUUID, FileCreated: f.CreatedAt, AttachedAt: now, AttachedBy: p.Name}
			if a.Kind == KindField && a.VersionUUID == "" {
				a.VersionUUID = f.VersionUUID // a field value pins the version it was set to
			}
			err := s.Store.Attach(ctx, p.AccountID, a, a.record(p.AccountID, outbox.FileAttached, &f))
			switch {
			case err == nil:
			case errors.Is(err, ErrAlreadyAttached):
				res.Status = "already_attached"
			case errors.Is(err, ErrFileGone):
				res.Err = fileTrashed(sp.FileUUID)
			case errors.Is(err, ErrVersionGone):
				res.Err = apperr.New(apperr.KindNotFound, "version_not_found", "file "+f.UUID+" has no version "+a.VersionUUID).With("field", "files["+strconv.Itoa(i)+"].version_uuid")
			default:
				return Entity{}, nil, err // storage trouble: fail the request, a retry is safe
			}
			res.Attachment = &a
		}
		if res.Err != nil {
			res.Status = "error"
		}
		ff := f
		if ok {
			res.File = &ff
		}
		out[i] = res
	}
	return e, out, nil
}

// pinsInfected reports a pinned older version that is infected (one that
// cannot be read is left to the attach's own condition).
func (s *Service) pinsInfected(ctx context.Context, accountID, fileUUID, versionUUID string) bool {
	v, err := s.Store.GetVersion(ctx, accountID, fileUUID, versionUUID)
	return err == nil && v.Scan.Status == files.ScanInfected
}

// prepare validates a batch of specs, finds the entity (registering a new
// UUID when register) and reads the files (one BatchGetItem).
func (s *Service) prepare(ctx context.Context, p auth.Principal, r Ref, specs []Spec, register bool) (Entity, map[string]files.File, error) {
	if err := ValidateSpecs(specs); err != nil {
		return Entity{}, nil, err
	}
	e, err := s.Resolve(ctx, p, r, register)
	if err != nil {
		return Entity{}, nil, err
	}
	uuids := make([]string, len(specs))
	for i, sp := range specs {
		uuids[i] = sp.FileUUID
	}
	fs, err := s.Store.GetFiles(ctx, p.AccountID, uuids)
	if err != nil {
		return Entity{}, nil, err
	}
	m := make(map[string]files.File, len(fs))
	for _, f := range fs {
		m[f.UUID] = f
	}
	return e, m, nil
}

// Detach removes attachments: a spec without a kind removes every
// attachment of that file to the entity. Detaching what is not attached
// answers not_attached (idempotent).
func (s *Service) Detach(ctx context.Context, p auth.Principal, r Ref, specs []Spec) (Entity, []Result, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return Entity{}, nil, err
	}
	anyKind := make([]bool, len(specs))
	for i, sp := range specs {
		anyKind[i] = sp.Kind == ""
	}
	e, byUUID, err := s.prepare(ctx, p, r, specs, false)
	if err != nil {
		return Entity{}, nil, err
	}
	out := make([]Result, len(specs))
	for i, sp := range specs {
		res := Result{Spec: sp, Status: "detached"}
		f, ok := byUUID[sp.FileUUID]
		if !ok {
			// a purged file's attachments went with it
			res.Status = "not_attached"
			out[i] = res
			continue
		}
		a := Attachment{Entity: e.Ref(), Title: e.Title, FileUUID: f.UUID, FileCreated: f.CreatedAt}
		if !anyKind[i] {
			a.Kind, a.RefID = sp.Kind, sp.RefID()
		}
		n, err := s.Store.Detach(ctx, p.AccountID, a, func(found []Attachment) *outbox.Record {
			rec := outbox.NewRecord(p.AccountID, s.Clock.Now())
			for _, x := range found {
				x.Entity, x.Title = a.Entity, a.Title // rows keep neither code nor title
				rec.Add(outbox.FileDetached, x.EventData(&f))
			}
			return rec
		})
		if err != nil {
			return Entity{}, nil, err
		}
		if n == 0 {
			res.Status = "not_attached"
		}
		ff := f
		res.File = &ff
		out[i] = res
	}
	return e, out, nil
}

// record is the event record of an attachment made or undone now.
func (a Attachment) record(account string, t outbox.Type, f *files.File) *outbox.Record {
	return outbox.NewRecord(account, a.AttachedAt).Add(t, a.EventData(f))
}

// EventData is an attachment as its events show it.
func (a Attachment) EventData(f *files.File) outbox.AttachmentData {
	d := outbox.AttachmentData{FileUUID: a.FileUUID, Entity: outbox.EntityOf(string(a.Entity.Type), a.Entity.UUID, a.Entity.Code, a.Title),
		Kind: string(a.Kind), VersionUUID: a.VersionUUID}
	if f != nil {
		ef := outbox.FileOf(*f)
		d.File = &ef
	}
	switch a.Kind {
	case KindNote:
		d.NoteID = a.RefID
	case KindField:
		d.FieldID = a.RefID
	}
	return d
}

// Usage is one place a file is attached, with its entity.
type Usage struct {
	Attachment
	Entity Entity
}

// Usages lists where a file is attached.
func (s *Service) Usages(ctx context.Context, p auth.Principal, fileUUID string) (files.File, []Usage, error) {
	if err := p.Require(auth.ScopeRead); err != nil {
		return files.File{}, nil, err
	}
	fs, err := s.Store.GetFiles(ctx, p.AccountID, []string{fileUUID})
	if err != nil {
		return files.File{}, nil, err
	}
	if len(fs) == 0 || fs[0].Gone(s.Clock.Now()) {
		return files.File{}, nil, fileNotFound(fileUUID)
	}
	as, err := s.Store.Usages(ctx, p.AccountID, fileUUID)
	if err != nil {
		return files.File{}, nil, err
	}
	out := make([]Usage, 0, len(as))
	cache := map[string]Entity{}
	for _, a := range as {
		k := string(a.Entity.Type) + "#" + a.Entity.UUID
		ent, ok := cache[k]
		if !ok {
			ent, err = s.Store.GetEntity(ctx, p.AccountID, a.Entity.Type, a.Entity.UUID)
			if err != nil && !errors.Is(err, apperr.ErrNotFound) {
				return files.File{}, nil, err
			}
			ent.Type, ent.UUID = a.Entity.Type, a.Entity.UUID
			cache[k] = ent
		}
		out = append(out, Usage{Attachment: a, Entity: ent})
	}
	return fs[0], out, nil
}
