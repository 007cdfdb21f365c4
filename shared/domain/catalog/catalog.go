// Package catalog is the file catalogue: reading files and their versions,
// listing with filters and signed cursors (list.go, query.go, cursor.go),
// promoting a version, signed downloads, and the trash — trash, restore,
// purge and the sweeper's purge of files past their window (trash.go).
package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/base/ids"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/keyring"
)

// Store is the metadata the catalogue reads and writes: files and
// versions, listings (Lister) and the trash (TrashStore).
type Store interface {
	GetFile(ctx context.Context, accountID, fileUUID string) (files.File, error)
	GetVersion(ctx context.Context, accountID, fileUUID, versionUUID string) (files.Version, error)
	// Settings reads the account's settings (downloads read its pending
	// policy when a version's verdict has not come).
	Settings(ctx context.Context, accountID string) (files.Settings, error)
	SetSettings(ctx context.Context, accountID string, st files.Settings) error
	Lister
	TrashStore
}

// Blobs signs downloads, and hides, reveals and erases bytes (TrashBlobs).
type Blobs interface {
	PresignGet(ctx context.Context, key, versionID, disposition, contentType string, ttl time.Duration) (string, error)
	TrashBlobs
}

// PreviewImages is the previews' bucket.
type PreviewImages interface {
	PresignGet(ctx context.Context, key, versionID, disposition, contentType string, ttl time.Duration) (string, error)
	Remove(ctx context.Context, key string) error
}

// Catalog reads, lists, versions, downloads, trashes, restores and purges
// files.
type Catalog struct {
	Store Store
	Blobs Blobs
	// Entities resolves entity filters (nil: entity filters are refused).
	Entities entities.Resolver
	// Cursors signs and verifies listing cursors.
	Cursors     *keyring.Ring
	DownloadTTL time.Duration // default 5 min
	// Previews signs links to previews (in views) and erases them (with
	// their file); nil: previews are shown without links.
	Previews PreviewImages
	// Budget and PerCall override PageBudget and DefaultPerCall (tests use
	// small values to exercise multi-request and budget-limited pages).
	Budget, PerCall int
	Clock           clock.Func
}

func notFound(uuid string) error {
	return apperr.New(apperr.KindNotFound, "file_not_found", "no file "+uuid+" in this account")
}

// Get returns one file of the caller's account.
func (c *Catalog) Get(ctx context.Context, p auth.Principal, fileUUID string) (files.File, error) {
	f, err := c.readable(ctx, p, fileUUID)
	if err != nil {
		return files.File{}, err
	}
	f.Previews, err = c.linkPreviews(ctx, f, f.Previews)
	return f, err
}

// readable reads one file for a caller that may read files, its
// previews' links unsigned (for views of its versions).
func (c *Catalog) readable(ctx context.Context, p auth.Principal, fileUUID string) (files.File, error) {
	if err := p.Require(auth.ScopeRead); err != nil {
		return files.File{}, err
	}
	return c.file(ctx, p.AccountID, fileUUID)
}

// linkPreviews signs a short-lived link to each preview of a file's
// version (none while the file is in the trash: its bytes are hidden).
func (c *Catalog) linkPreviews(ctx context.Context, f files.File, ps files.Previews) (files.Previews, error) {
	if c.Previews == nil || f.IsTrashed || len(ps) == 0 {
		return ps, nil
	}
	out := make(files.Previews, len(ps))
	for i, pv := range ps {
		u, err := c.Previews.PresignGet(ctx, pv.Key, "", "inline", pv.Type, c.downloadTTL())
		if err != nil {
			return nil, err
		}
		pv.URL = u
		out[i] = pv
	}
	return out, nil
}

func (c *Catalog) downloadTTL() time.Duration {
	if c.DownloadTTL <= 0 {
		return 5 * time.Minute
	}
	return c.DownloadTTL
}

// file reads one file of an account for an operation whose own scope was
// checked (promote, trash, restore).
func (c *Catalog) file(ctx context.Context, accountID, fileUUID string) (files.File, error) {
	if err := ids.Check("uuid", fileUUID); err != nil {
		return files.File{}, err
	}
	f, err := c.Store.GetFile(ctx, accountID, fileUUID)
	if errors.Is(err, apperr.ErrNotFound) || err == nil && f.Gone(c.Clock.Now()) {
		return files.File{}, notFound(fileUUID)
	}
	return f, err
}

// DownloadURL signs a short-lived GET of the main version (or versionUUID),
// valid until the time it returns.
func (c *Catalog) DownloadURL(ctx context.Context, p auth.Principal, fileUUID, versionUUID string, inline bool) (string, time.Time, error) {
	f, err := c.Get(ctx, p, fileUUID)
	if err != nil {
		return "", time.Time{}, err
	}
	if f.IsTrashed {
		return "", time.Time{}, apperr.New(apperr.KindGone, "file_trashed", "file "+fileUUID+" is in the trash; restore it to download")
	}
	if versionUUID == "" {
		versionUUID = f.VersionUUID
	} else if err := ids.Check("version_uuid", versionUUID); err != nil {
		return "", time.Time{}, err
	}
	v, err := c.Store.GetVersion(ctx, p.AccountID, fileUUID, versionUUID)
	if errors.Is(err, apperr.ErrNotFound) {
		return "", time.Time{}, apperr.New(apperr.KindNotFound, "version_not_found", "file "+fileUUID+" has no version "+versionUUID)
	}
	if err != nil {
		return "", time.Time{}, err
	}
	ttl := c.downloadTTL()
	if v.S3Version == "" { // commit records none without one
		return "", time.Time{}, fmt.Errorf("version %s of file %s has no S3 version id", versionUUID, fileUUID)
	}
	var policy files.PendingPolicy
	if v.Scan.NeedsPolicy() {
		st, err := c.Store.Settings(ctx, p.AccountID)
		if err != nil {
			return "", time.Time{}, err
		}
		policy = st.ScanPending
	}
	if err := v.Scan.Servable(fileUUID, policy); err != nil {
		return "", time.Time{}, err
	}
	kind, ctype := files.Delivery(v.MimeType, inline)
	expires := c.Clock.Now().Add(ttl).UTC().Truncate(time.Second)
	url, err := c.Blobs.PresignGet(ctx, v.Key, v.S3Version, files.ContentDisposition(kind, v.Name), ctype, ttl)
	return url, expires, err
}

// Settings reads the caller's account settings.
func (c *Catalog) Settings(ctx context.Context, p auth.Principal) (files.Settings, error) {
	if err := p.Require(auth.ScopeRead); err != nil {
		return files.Settings{}, err
	}
	st, err := c.Store.Settings(ctx, p.AccountID)
	return st.Current(), err
}

// SettingsPatch is a change of settings: the fields set change.
type SettingsPatch struct {
	ScanPending *files.PendingPolicy `json:"scan_pending"`
}

// UpdateSettings changes the caller's account settings (an account
// administrator's: tokens:admin).
func (c *Catalog) UpdateSettings(ctx context.Context, p auth.Principal, patch SettingsPatch) (files.Settings, error) {
	if err := p.Require(auth.ScopeTokens); err != nil {
		return files.Settings{}, err
	}
	st, err := c.Store.Settings(ctx, p.AccountID)
	if err != nil {
		return files.Settings{}, err
	}
	if patch.ScanPending != nil {
		switch *patch.ScanPending {
		case files.PendingBlock, files.PendingAllow:
			st.ScanPending = *patch.ScanPending
		default:
			return files.Settings{}, apperr.Invalid("settings.scan_pending", "must be block or allow")
		}
	}
	if err := c.Store.SetSettings(ctx, p.AccountID, st); err != nil {
		return files.Settings{}, err
	}
	return st.Current(), nil
}
