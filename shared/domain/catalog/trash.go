package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/ids"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// TrashWindow is how long a trashed file can be restored.
const TrashWindow = 30 * 24 * time.Hour

// MaxBatch bounds the files of one trash, restore or purge request.
const MaxBatch = 50

// TrashStore is the metadata side of the trash.
type TrashStore interface {
	// Each writes the change's event record in the change's transaction.
	TrashFile(ctx context.Context, f files.File, at, purgeAt time.Time, by string, rec *outbox.Record) error
	RestoreFile(ctx context.Context, f files.File, now time.Time, rec *outbox.Record) error
	PurgeFile(ctx context.Context, f files.File, versions []files.Version, rec *outbox.Record) error
	DuePurges(ctx context.Context, now time.Time, limit int) ([]files.File, error)
}

// TrashBlobs hides, reveals and erases a version's bytes (delete markers on
// a versioned bucket). Each call is idempotent.
type TrashBlobs interface {
	Hide(ctx context.Context, key string) error
	Unhide(ctx context.Context, key string) error
	Erase(ctx context.Context, key string) error
}

// Result is the outcome for one file of a batch.
type Result struct {
	UUID   string
	Status string // trashed | restored | purged | error
	File   *files.File
	Err    error
}

// ValidateBatch checks the uuids of a batch request.
func ValidateBatch(uuids []string) error {
	var errs apperr.Fields
	errs.Count("body", len(uuids), MaxBatch, "files", "list at least one file: [{\"uuid\": \"…\"}]")
	seen := map[string]bool{}
	for i, u := range uuids {
		f := fmt.Sprintf("[%d].uuid", i)
		if err := ids.Check(f, u); err != nil {
			errs.Add(f, "must be a UUID")
		} else if seen[u] {
			errs.Add(f, "duplicate uuid")
		}
		seen[u] = true
	}
	return errs.Err()
}

func (c *Catalog) batch(ctx context.Context, p auth.Principal, uuids []string, status string, one func(files.File, time.Time) (files.File, error)) ([]Result, error) {
	if err := p.Require(auth.ScopeDelete); err != nil {
		return nil, err
	}
	if err := ValidateBatch(uuids); err != nil {
		return nil, err
	}
	out := make([]Result, 0, len(uuids))
	for _, u := range uuids {
		now := c.Clock.Now().Truncate(time.Microsecond)
		f, err := c.Store.GetFile(ctx, p.AccountID, u)
		switch {
		case errors.Is(err, apperr.ErrNotFound):
			err = notFound(u)
		case err != nil:
		case f.Gone(now) && status == "restored":
			err = apperr.New(apperr.KindGone, "purge_window_passed", "the file's 30-day restore window ended at "+f.PurgeAt.Format(time.RFC3339))
		case f.Gone(now):
			err = notFound(u)
		default:
			f, err = one(f, now)
		}
		r := Result{UUID: u, Status: status, Err: err}
		if err != nil {
			if apperr.KindOf(err) == apperr.KindInternal {
				return nil, err // storage trouble: fail the request, a retry is safe
			}
			r.Status = "error"
		} else if status != "purged" {
			r.File = &f
		}
		out = append(out, r)
	}
	return out, nil
}

func (c *Catalog) allVersions(ctx context.Context, f files.File) ([]files.Version, error) {
	var all []files.Version
	var start *Position
	for {
		vs, next, err := c.Store.ListVersions(ctx, f.AccountID, f.UUID, start, MaxLimit)
		if err != nil {
			return nil, err
		}
		all = append(all, vs...)
		if next == nil {
			return all, nil
		}
		start = next
	}
}

// forEachKey applies op to every version's object.
func (c *Catalog) forEachKey(ctx context.Context, f files.File, op func(context.Context, string) error) ([]files.Version, error) {
	vs, err := c.allVersions(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if err := op(ctx, v.Key); err != nil {
			return nil, fmt.Errorf("version %s: %w", v.UUID, err)
		}
	}
	return vs, nil
}

// Trash moves files to the trash: usage is freed at once and the files can
// be restored for 30 days. Metadata first (one transaction), then a delete
// marker on every version's object; a retry after a crash between the two
// finds the file trashed and finishes the markers.
func (c *Catalog) Trash(ctx context.Context, p auth.Principal, uuids []string) ([]Result, error) {
	return c.batch(ctx, p, uuids, "trashed", func(f files.File, now time.Time) (files.File, error) {
		if !f.IsTrashed {
			purge := now.Add(TrashWindow)
			after := f
			after.IsTrashed, after.DeletedAt, after.PurgeAt, after.DeletedBy = true, &now, &purge, &p.Name
			err := c.Store.TrashFile(ctx, f, now, purge, p.Name, outbox.OfFile(outbox.FileTrashed, after, nil, "", c.Clock.Now()))
			if errors.Is(err, apperr.ErrConflict) {
				return c.finishTrash(ctx, p, f.UUID) // trashed concurrently: finish its markers
			}
			if err != nil {
				return files.File{}, err
			}
			f = after
		}
		return c.settle(ctx, p, f)
	})
}

// finishTrash re-reads a file trashed by a concurrent request and makes sure
// its objects are hidden.
func (c *Catalog) finishTrash(ctx context.Context, p auth.Principal, uuid string) (files.File, error) {
	f, err := c.file(ctx, p.AccountID, uuid)
	if err != nil {
		return files.File{}, err
	}
	if !f.IsTrashed {
		return files.File{}, apperr.New(apperr.KindConflict, "file_changed", "the file changed meanwhile; retry")
	}
	return c.settle(ctx, p, f)
}

// Restore brings trashed files back while inside their window: delete
// markers removed first, then one transaction (quota checked). A retry
// after a crash between the two finds no markers and commits; a crash
// before the transaction leaves a trashed file whose bytes show, which
// harms nothing (the sweeper erases them with the file).
func (c *Catalog) Restore(ctx context.Context, p auth.Principal, uuids []string) ([]Result, error) {
	return c.batch(ctx, p, uuids, "restored", func(f files.File, now time.Time) (files.File, error) {
		if !f.IsTrashed {
			return c.settle(ctx, p, f)
		}
		if _, err := c.forEachKey(ctx, f, c.Blobs.Unhide); err != nil {
			return files.File{}, err
		}
		after := f
		after.IsTrashed, after.DeletedAt, after.PurgeAt, after.DeletedBy = false, nil, nil, nil
		err := c.Store.RestoreFile(ctx, f, now, outbox.OfFile(outbox.FileRestored, after, nil, "", c.Clock.Now()))
		switch {
		case errors.Is(err, apperr.ErrQuota):
			if _, herr := c.settle(ctx, p, f); herr != nil { // hidden again
				return files.File{}, herr
			}
			return files.File{}, apperr.New(apperr.KindQuota, "quota_exceeded", "restoring this file would exceed the account quota")
		case errors.Is(err, apperr.ErrConflict):
			cur, gerr := c.file(ctx, p.AccountID, f.UUID)
			switch {
			case gerr == nil && !cur.IsTrashed:
				return c.settle(ctx, p, cur) // restored concurrently
			case gerr == nil && !cur.Gone(now):
				// still trashed, its window open: another request's write
				// raced this one's (a trash, a restore, a transaction
				// conflict). Its objects follow its state again (this
				// request showed them) and the caller decides again.
				if _, herr := c.settle(ctx, p, cur); herr != nil {
					return files.File{}, herr
				}
				return files.File{}, apperr.New(apperr.KindConflict, "file_changed", "the file changed meanwhile (a concurrent trash or restore); retry")
			}
			return files.File{}, apperr.New(apperr.KindGone, "purge_window_passed", "the file's 30-day restore window has passed")
		case err != nil:
			return files.File{}, err
		}
		return c.settle(ctx, p, after)
	})
}

// settleRounds bounds settle's re-reads under a storm of trash and restore
// requests for one file.
const settleRounds = 8

// settle makes the objects of every version of f match its state — hidden
// while trashed, visible otherwise — then reads the state again: a
// concurrent trash or restore may have changed it while the S3 requests
// ran, and that request's own S3 requests may have landed before these.
// Whoever saw a stale state finds out on the re-read and applies the new
// one, so the objects end up matching whichever request committed last.
func (c *Catalog) settle(ctx context.Context, p auth.Principal, f files.File) (files.File, error) {
	for range settleRounds {
		op := c.Blobs.Unhide
		if f.IsTrashed {
			op = c.Blobs.Hide
		}
		if _, err := c.forEachKey(ctx, f, op); err != nil {
			return files.File{}, err
		}
		cur, err := c.Store.GetFile(ctx, p.AccountID, f.UUID)
		if errors.Is(err, apperr.ErrNotFound) {
			return files.File{}, notFound(f.UUID) // purged meanwhile
		}
		if err != nil {
			return files.File{}, err
		}
		if cur.IsTrashed == f.IsTrashed {
			return cur, nil
		}
		f = cur
	}
	return files.File{}, apperr.New(apperr.KindConflict, "file_changed", "the file is being trashed and restored concurrently; retry")
}

// Purge deletes trashed files forever before their window ends: every
// object version erased first, then the records. A retry after a crash in
// between finds nothing left to erase and deletes the records.
func (c *Catalog) Purge(ctx context.Context, p auth.Principal, uuids []string) ([]Result, error) {
	return c.batch(ctx, p, uuids, "purged", func(f files.File, now time.Time) (files.File, error) {
		if !f.IsTrashed {
			return files.File{}, apperr.New(apperr.KindConflict, "file_not_trashed", "only trashed files can be deleted forever; trash it first")
		}
		return f, c.purge(ctx, f, "")
	})
}

// purge erases a file's objects, then its records with its file.purged
// event (source: "sweeper" when its trash time ran out).
func (c *Catalog) purge(ctx context.Context, f files.File, source string) error {
	vs, err := c.forEachKey(ctx, f, c.Blobs.Erase)
	if err != nil {
		return err
	}
	if err := c.removePreviews(ctx, vs); err != nil {
		return err
	}
	err = c.Store.PurgeFile(ctx, f, vs, outbox.OfFile(outbox.FilePurged, f, nil, source, c.Clock.Now()))
	if errors.Is(err, apperr.ErrConflict) {
		return apperr.New(apperr.KindConflict, "file_changed", "the file was restored meanwhile")
	}
	return err
}

// removePreviews deletes the versions' previews (none are kept without
// a previews' bucket).
func (c *Catalog) removePreviews(ctx context.Context, vs []files.Version) error {
	if c.Previews == nil {
		return nil
	}
	for _, v := range vs {
		for _, pv := range v.Previews {
			if err := c.Previews.Remove(ctx, pv.Key); err != nil {
				return fmt.Errorf("version %s's preview: %w", v.UUID, err)
			}
		}
	}
	return nil
}

// SweepBatch is how many due files one Sweep call handles; the sweeper
// calls it again while a full batch came back and time is left
// (triggers.Sweeper).
const SweepBatch = 100

// Sweep purges trashed files whose window has passed (run on a schedule):
// the same steps as deleting forever, so counters stay exact. It returns how
// many files it purged; a file restored meanwhile is skipped.
func (c *Catalog) Sweep(ctx context.Context) (int, error) {
	due, err := c.Store.DuePurges(ctx, c.Clock.Now(), SweepBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range due {
		if err := c.purge(ctx, f, "sweeper"); err != nil {
			if apperr.KindOf(err) == apperr.KindConflict {
				continue
			}
			return n, fmt.Errorf("purge %s/%s: %w", f.AccountID, f.UUID, err)
		}
		n++
	}
	return n, nil
}
