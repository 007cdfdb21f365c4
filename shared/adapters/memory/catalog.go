package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// sortable is a time as the table's keys hold it: fixed width, so keys
// sort as the times do.
func sortable(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// fileKey is a file's place in the catalogue's order (creation, then uuid).
func fileKey(f files.File) string { return sortable(f.CreatedAt) + "#" + f.UUID }

// ahead reports whether key k lies beyond ref in the listing's direction.
func ahead(ascending bool, k, ref string) bool {
	if ascending {
		return k > ref
	}
	return k < ref
}

// inOrder sorts keyed values in the listing's direction.
func inOrder[T any](xs []T, key func(T) string, ascending bool) {
	slices.SortFunc(xs, func(a, b T) int {
		if ascending {
			return strings.Compare(key(a), key(b))
		}
		return strings.Compare(key(b), key(a))
	})
}

// ListFiles implements catalog.Lister as the index does: the account's
// files in creation order from r.Start, filtered, at most r.Budget of them
// evaluated; a short page still has a next position when files remain.
func (s *Store) ListFiles(_ context.Context, r catalog.ListRequest) (catalog.ListResult, error) {
	var res catalog.ListResult
	err := s.do(func() error {
		a, ok := s.accounts[r.AccountID]
		if !ok {
			return nil
		}
		all := make([]files.File, 0, len(a.files))
		for _, f := range a.files {
			if r.Start == nil || ahead(r.Query.Ascending, fileKey(f), r.Start.SortKey) {
				all = append(all, f)
			}
		}
		inOrder(all, fileKey, r.Query.Ascending)
		for i, f := range all {
			res.Evaluated++
			pos := &catalog.Position{SortKey: fileKey(f), ItemKey: f.UUID}
			if r.Query.Matches(f) {
				res.Files = append(res.Files, f)
			}
			last := i == len(all)-1
			if len(res.Files) == r.Need || res.Evaluated >= r.Budget {
				if !last {
					res.Next = pos
				}
				return nil
			}
		}
		return nil
	})
	return res, err
}

// GetFiles implements catalog.Lister: the files that exist, once each.
func (s *Store) GetFiles(_ context.Context, accountID string, uuids []string) ([]files.File, error) {
	var out []files.File
	err := s.do(func() error {
		a, ok := s.accounts[accountID]
		if !ok {
			return nil
		}
		seen := map[string]bool{}
		for _, u := range uuids {
			if f, ok := a.files[u]; ok && !seen[u] {
				seen[u] = true
				out = append(out, f)
			}
		}
		return nil
	})
	return out, err
}

// ListVersions implements catalog.Lister: newest first (version uuids are
// UUIDv7), limit at a time.
func (s *Store) ListVersions(_ context.Context, accountID, fileUUID string, start *catalog.Position, limit int) ([]files.Version, *catalog.Position, error) {
	var out []files.Version
	var next *catalog.Position
	err := s.do(func() error {
		a, ok := s.accounts[accountID]
		if !ok {
			return nil
		}
		var all []files.Version
		for _, v := range a.versions[fileUUID] {
			if start == nil || v.UUID < start.ItemKey {
				all = append(all, v)
			}
		}
		slices.SortFunc(all, func(x, y files.Version) int { return strings.Compare(y.UUID, x.UUID) })
		if len(all) > limit {
			all = all[:limit]
			next = &catalog.Position{ItemKey: all[limit-1].UUID}
		}
		out = all
		return nil
	})
	return out, next, err
}

// PromoteVersion implements catalog.Lister.
func (s *Store) PromoteVersion(_ context.Context, f files.File, rec *outbox.Record) error {
	return s.do(func() error {
		a, ok := s.accounts[f.AccountID]
		if !ok {
			return apperr.ErrConflict
		}
		cur, ok := a.files[f.UUID]
		v, has := a.versions[f.UUID][f.VersionUUID]
		if !ok || !has || cur.IsTrashed || v.Scan.Status != f.Scan.Status || (len(v.Previews) > 0) != (len(f.Previews) > 0) {
			return fmt.Errorf("%w: file %s cannot take version %s", apperr.ErrConflict, f.UUID, f.VersionUUID)
		}
		a.files[f.UUID] = mainVersion(cur, f)
		a.write(rec)
		return nil
	})
}

// mainVersion is cur with the fields that follow its main version from f.
func mainVersion(cur, f files.File) files.File {
	cur.VersionUUID, cur.Name, cur.SanitizedName, cur.Extension = f.VersionUUID, f.Name, f.SanitizedName, f.Extension
	cur.Type, cur.MimeType, cur.Size, cur.UpdatedAt, cur.UpdatedBy = f.Type, f.MimeType, f.Size, f.UpdatedAt, f.UpdatedBy
	cur.Scan = f.Scan.Current()
	cur.Previews = f.Previews
	return cur
}

// unchanged returns the account and file f was read from, if it still is
// (same main version and version count: optimistic concurrency).
func (s *Store) unchanged(f files.File) (*account, files.File, bool) {
	a, ok := s.accounts[f.AccountID]
	if !ok {
		return nil, files.File{}, false
	}
	cur, ok := a.files[f.UUID]
	return a, cur, ok && cur.VersionUUID == f.VersionUUID && cur.VersionCount == f.VersionCount
}

// TrashFile implements catalog.TrashStore.
func (s *Store) TrashFile(_ context.Context, f files.File, at, purgeAt time.Time, by string, rec *outbox.Record) error {
	return s.do(func() error {
		a, cur, ok := s.unchanged(f)
		if !ok || cur.IsTrashed {
			return fmt.Errorf("%w: file %s changed or is trashed", apperr.ErrConflict, f.UUID)
		}
		t := f
		t.IsTrashed, t.DeletedAt, t.PurgeAt, t.DeletedBy = true, &at, &purgeAt, &by
		a.files[f.UUID] = t
		a.usage.UsedBytes -= f.TotalBytes
		a.usage.TrashedBytes += f.TotalBytes
		a.usage.FileCount--
		a.usage.VersionCount -= f.VersionCount
		a.write(rec)
		return nil
	})
}

// RestoreFile implements catalog.TrashStore; the quota's refusal comes
// first, as in the table.
func (s *Store) RestoreFile(_ context.Context, f files.File, now time.Time, rec *outbox.Record) error {
	return s.do(func() error {
		a, cur, ok := s.unchanged(f)
		if a != nil && !a.fits(f.TotalBytes) {
			return apperr.ErrQuota
		}
		if !ok || !cur.IsTrashed || cur.PurgeAt == nil || !cur.PurgeAt.After(now) {
			return fmt.Errorf("%w: file %s changed, is not trashed, or is past its window", apperr.ErrConflict, f.UUID)
		}
		r := f
		r.IsTrashed, r.DeletedAt, r.PurgeAt, r.DeletedBy = false, nil, nil, nil
		a.files[f.UUID] = r
		a.usage.UsedBytes += f.TotalBytes
		a.usage.TrashedBytes -= f.TotalBytes
		a.usage.FileCount++
		a.usage.VersionCount += f.VersionCount
		a.write(rec)
		return nil
	})
}

// PurgeFile implements catalog.TrashStore in the table's steps: the
// file's attachments and the given versions go first (each idempotent),
// then the file, its numeric id and its trashed bytes, conditional on the
// file still being trashed.
func (s *Store) PurgeFile(_ context.Context, f files.File, versions []files.Version, rec *outbox.Record) error {
	return s.do(func() error {
		a, ok := s.accounts[f.AccountID]
		if !ok {
			return apperr.ErrConflict
		}
		for k, at := range a.attached {
			if at.FileUUID == f.UUID {
				delete(a.attached, k)
			}
		}
		for _, v := range versions {
			delete(a.versions[f.UUID], v.UUID)
		}
		if cur, ok := a.files[f.UUID]; !ok || !cur.IsTrashed {
			return fmt.Errorf("%w: file %s is not trashed", apperr.ErrConflict, f.UUID)
		}
		delete(a.files, f.UUID)
		delete(a.ids, f.ID)
		if len(a.versions[f.UUID]) == 0 {
			delete(a.versions, f.UUID)
		}
		a.usage.TrashedBytes -= f.TotalBytes
		a.write(rec)
		return nil
	})
}

// due is an item of one of the sweeper's queues.
type due[T any] struct {
	at  time.Time
	key string
	v   T
}

// soonest sorts due items and keeps limit of them.
func soonest[T any](all []due[T], limit int) []T {
	slices.SortFunc(all, func(a, b due[T]) int { return cmp.Or(a.at.Compare(b.at), strings.Compare(a.key, b.key)) })
	out := make([]T, 0, min(limit, len(all)))
	for _, d := range all[:min(limit, len(all))] {
		out = append(out, d.v)
	}
	return out
}

// DuePurges implements catalog.TrashStore: trashed files whose purge time
// is before now, soonest first.
func (s *Store) DuePurges(_ context.Context, now time.Time, limit int) ([]files.File, error) {
	var all []due[files.File]
	err := s.do(func() error {
		for id, a := range s.accounts {
			for _, f := range a.files {
				if f.IsTrashed && f.PurgeAt != nil && f.PurgeAt.Before(now) {
					all = append(all, due[files.File]{*f.PurgeAt, id + "#" + f.UUID, f})
				}
			}
		}
		return nil
	})
	return soonest(all, limit), err
}

// ListEntityFiles implements catalog.Lister: the entity's attachments in
// file creation order, grouped by file, joined with the files and
// filtered; a page ends on a whole file.
func (s *Store) ListEntityFiles(_ context.Context, r catalog.ListRequest) (catalog.ListResult, error) {
	res := catalog.ListResult{Attachments: map[string][]entities.Attachment{}}
	err := s.do(func() error {
		a, ok := s.accounts[r.AccountID]
		if !ok {
			return nil
		}
		q := r.Query
		type group struct {
			key  string
			file string
			atts []entities.Attachment
		}
		byFile := map[string]*group{}
		for _, at := range a.attached {
			if at.Entity.Type != q.Entity.Ref.Type || at.Entity.UUID != q.Entity.UUID || !q.Entity.HasKind(at.Kind) {
				continue
			}
			key := sortable(at.FileCreated) + "#" + at.FileUUID
			if r.Start != nil && r.Start.SortKey != "" && !ahead(q.Ascending, key, r.Start.SortKey) {
				continue
			}
			g, ok := byFile[at.FileUUID]
			if !ok {
				g = &group{key: key, file: at.FileUUID}
				byFile[at.FileUUID] = g
			}
			g.atts = append(g.atts, at)
			res.Evaluated++
		}
		groups := make([]*group, 0, len(byFile))
		for _, g := range byFile {
			slices.SortFunc(g.atts, func(x, y entities.Attachment) int { return strings.Compare(attachKey(x), attachKey(y)) })
			groups = append(groups, g)
		}
		inOrder(groups, func(g *group) string { return g.key }, q.Ascending)
		for i, g := range groups {
			f, ok := a.files[g.file]
			if !ok || !q.Matches(f) {
				continue
			}
			res.Files = append(res.Files, f)
			res.Attachments[g.file] = g.atts
			if len(res.Files) == r.Need {
				if i < len(groups)-1 {
					res.Next = &catalog.Position{SortKey: g.key}
				}
				return nil
			}
		}
		return nil
	})
	return res, err
}

// RecordScan records version v's verdict, and its file's when v is the
// main version, with rec, if v's stored verdict is still prev;
// ErrConflict when v is gone, its verdict changed, or (main) it is no
// longer the main version.
func (s *Store) RecordScan(_ context.Context, v files.Version, prev files.ScanStatus, main bool, rec *outbox.Record) error {
	return s.onVersion(v, main, rec, func(cur files.Version) bool { return cur.Scan.Status == prev },
		func(cur *files.Version, f *files.File) { cur.Scan, f.Scan = v.Scan, v.Scan })
}

// onVersion applies a change to version v, and to its file when main,
// with rec, if ok holds of the stored version and, when main, v is still
// the main version (else ErrConflict).
func (s *Store) onVersion(v files.Version, main bool, rec *outbox.Record, ok func(cur files.Version) bool, apply func(cur *files.Version, f *files.File)) error {
	return s.do(func() error {
		a, found := s.accounts[v.AccountID]
		if !found {
			return apperr.ErrConflict
		}
		cur, has := a.versions[v.FileUUID][v.UUID]
		f, fok := a.files[v.FileUUID]
		if !has || !ok(cur) || main && (!fok || f.VersionUUID != v.UUID) {
			return apperr.ErrConflict
		}
		file := f
		apply(&cur, &file)
		a.versions[v.FileUUID][v.UUID] = cur
		if main {
			a.files[v.FileUUID] = file
		}
		a.write(rec)
		return nil
	})
}

// DueScans lists versions pending their verdict whose look is due at now,
// and infected versions whose quarantine ended, oldest first.
func (s *Store) DueScans(_ context.Context, now time.Time, limit int) ([]files.Version, error) {
	var out []files.Version
	err := s.do(func() error {
		for _, a := range s.accounts {
			for _, vs := range a.versions {
				for _, v := range vs {
					queued := v.Scan.Status == files.ScanPending || v.Scan.Quarantined()
					if queued && !v.Scan.Due.IsZero() && !v.Scan.Due.After(now) {
						out = append(out, v)
					}
				}
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b files.Version) int { return a.Scan.Due.Compare(b.Scan.Due) })
	return out[:min(limit, len(out))], err
}

// RecordPreviews writes version v's previews, and its file's when main,
// with rec, if v has none yet and (main) is still the main version.
func (s *Store) RecordPreviews(_ context.Context, v files.Version, main bool, rec *outbox.Record) error {
	return s.onVersion(v, main, rec, func(cur files.Version) bool { return len(cur.Previews) == 0 },
		func(cur *files.Version, f *files.File) { cur.Previews, f.Previews = v.Previews, v.Previews })
}

// PurgeInfected records that infected version v's bytes were erased, with
// rec, if v is still quarantined and f still as read (trashed or not, its
// main version); its size leaves the file's total and the account's used
// (or trashed) bytes.
func (s *Store) PurgeInfected(_ context.Context, v files.Version, f files.File, rec *outbox.Record) error {
	return s.do(func() error {
		a, ok := s.accounts[v.AccountID]
		if !ok {
			return apperr.ErrConflict
		}
		cur, ok := a.versions[v.FileUUID][v.UUID]
		cf, fok := a.files[f.UUID]
		if !ok || !cur.Scan.Quarantined() || !fok || cf.IsTrashed != f.IsTrashed || cf.VersionUUID != f.VersionUUID {
			return apperr.ErrConflict
		}
		cur.Scan = v.Scan
		a.versions[v.FileUUID][v.UUID] = cur
		cf.TotalBytes -= v.Size
		if cf.VersionUUID == v.UUID {
			cf.Scan = v.Scan
		}
		a.files[f.UUID] = cf
		if f.IsTrashed {
			a.usage.TrashedBytes -= v.Size
		} else {
			a.usage.UsedBytes -= v.Size
		}
		a.write(rec)
		return nil
	})
}

// RescheduleScan moves a pending version's look to v.Scan.Due.
func (s *Store) RescheduleScan(_ context.Context, v files.Version) error {
	return s.do(func() error {
		a, ok := s.accounts[v.AccountID]
		if !ok {
			return apperr.ErrConflict
		}
		cur, ok := a.versions[v.FileUUID][v.UUID]
		if !ok || cur.Scan.Status != files.ScanPending {
			return apperr.ErrConflict
		}
		cur.Scan.Due, cur.Scan.Looks = v.Scan.Due, v.Scan.Looks
		a.versions[v.FileUUID][v.UUID] = cur
		return nil
	})
}
