package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/batches"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// ReserveFileIDs implements batches.Store: n consecutive ids, the first
// returned.
func (s *Store) ReserveFileIDs(_ context.Context, accountID string, n int) (int64, files.Usage, error) {
	last, u, err := s.reserve(accountID, int64(n))
	return last - int64(n) + 1, u, err
}

func copyBatch(b batches.Batch) batches.Batch {
	b.Items = slices.Clone(b.Items)
	return b
}

// GetBatch implements batches.Store.
func (s *Store) GetBatch(_ context.Context, accountID, id string) (batches.Batch, error) {
	return read(s, accountID, func(a *account) (batches.Batch, bool) { b, ok := a.batches[id]; return copyBatch(b), ok })
}

// PutPending implements batches.Store.
func (s *Store) PutPending(_ context.Context, b batches.Batch) error {
	return s.do(func() error {
		a, err := s.account(b.AccountID)
		if err != nil {
			return err
		}
		if _, ok := a.batches[b.ID]; ok {
			return apperr.ErrConflict
		}
		a.batches[b.ID] = copyBatch(b)
		return nil
	})
}

// DeletePending implements batches.Store.
func (s *Store) DeletePending(_ context.Context, b batches.Batch) error {
	return s.do(func() error {
		a, ok := s.accounts[b.AccountID]
		if !ok || a.batches[b.ID].Status != batches.StatusPending {
			return apperr.ErrConflict
		}
		delete(a.batches, b.ID)
		return nil
	})
}

// DuePending implements batches.Store: batches pending past before,
// soonest first.
func (s *Store) DuePending(_ context.Context, before time.Time, limit int) ([]batches.Batch, error) {
	var all []due[batches.Batch]
	err := s.do(func() error {
		for id, a := range s.accounts {
			for _, b := range a.batches {
				if b.Status == batches.StatusPending && b.StaleAt.Before(before) {
					all = append(all, due[batches.Batch]{b.StaleAt, id + "#" + b.ID, copyBatch(b)})
				}
			}
		}
		return nil
	})
	return soonest(all, limit), err
}

// CommitBatch implements batches.Store, all or nothing: the batch must be
// pending and inside its window, the quota must hold its bytes, and its
// files, versions and numeric ids must be new.
func (s *Store) CommitBatch(_ context.Context, b batches.Batch, now time.Time, rec *outbox.Record) error {
	return s.do(func() error {
		a, ok := s.accounts[b.AccountID]
		if !ok {
			return batches.ErrNotPending
		}
		if cur, ok := a.batches[b.ID]; !ok || cur.Status != batches.StatusPending || !cur.StaleAt.After(now) {
			return batches.ErrNotPending
		}
		if !a.fits(b.TotalSize) {
			return apperr.ErrQuota
		}
		for _, x := range b.Items {
			_, f := a.files[x.File.UUID]
			_, v := a.versions[x.File.UUID][x.Version.UUID]
			_, id := a.ids[x.File.ID]
			if f || v || id {
				return fmt.Errorf("%w: file %s, its version or its id exists", apperr.ErrConflict, x.File.UUID)
			}
		}
		done := copyBatch(b)
		done.Status = batches.StatusCompleted
		a.batches[b.ID] = done
		for _, x := range b.Items {
			a.files[x.File.UUID] = x.File
			a.versions[x.File.UUID] = map[string]files.Version{x.Version.UUID: x.Version}
			a.ids[x.File.ID] = x.File.UUID
			at := b.Attachment(x)
			a.attached[attachKey(at)] = at
		}
		n := int64(len(b.Items))
		a.usage.UsedBytes += b.TotalSize
		a.usage.FileCount += n
		a.usage.VersionCount += n
		a.write(rec)
		return nil
	})
}
