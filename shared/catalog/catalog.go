// Package catalog reads the file catalogue: file records and downloads.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anexo/anexo/shared/apperr"
	"github.com/anexo/anexo/shared/auth"
	"github.com/anexo/anexo/shared/files"
	"github.com/anexo/anexo/shared/upload"
)

// Store is the metadata the catalogue reads.
type Store interface {
	GetFile(ctx context.Context, accountID, fileUUID string) (files.File, error)
	GetVersion(ctx context.Context, accountID, fileUUID, versionUUID string) (files.Version, error)
}

// Blobs signs downloads.
type Blobs interface {
	PresignGet(ctx context.Context, key, versionID, disposition, contentType string, ttl time.Duration) (string, error)
}

// Service serves catalogue reads.
type Service struct {
	Store       Store
	Blobs       Blobs
	DownloadTTL time.Duration    // default 5 min
	Clock       func() time.Time // default time.Now
}

func (s *Service) clock() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

func notFound(uuid string) error {
	return apperr.New(apperr.KindNotFound, "file_not_found", "no file "+uuid+" in this account")
}

// Get returns one file of the caller's account.
func (s *Service) Get(ctx context.Context, p auth.Principal, fileUUID string) (files.File, error) {
	if err := p.Require(auth.ScopeRead); err != nil {
		return files.File{}, err
	}
	return s.file(ctx, p.AccountID, fileUUID)
}

// file reads one file of an account for an operation whose own scope was
// checked (promote, trash, restore).
func (s *Service) file(ctx context.Context, accountID, fileUUID string) (files.File, error) {
	if err := upload.ValidUUID("uuid", fileUUID); err != nil {
		return files.File{}, err
	}
	f, err := s.Store.GetFile(ctx, accountID, fileUUID)
	if errors.Is(err, apperr.ErrNotFound) || err == nil && f.Gone(s.clock()) {
		return files.File{}, notFound(fileUUID)
	}
	return f, err
}

// DownloadURL signs a short-lived GET of the main version (or versionUUID).
func (s *Service) DownloadURL(ctx context.Context, p auth.Principal, fileUUID, versionUUID string, inline bool) (string, error) {
	f, err := s.Get(ctx, p, fileUUID)
	if err != nil {
		return "", err
	}
	if f.IsTrashed {
		return "", apperr.New(apperr.KindGone, "file_trashed", "file "+fileUUID+" is in the trash; restore it to download")
	}
	if versionUUID == "" {
		versionUUID = f.VersionUUID
	} else if err := upload.ValidUUID("version_uuid", versionUUID); err != nil {
		return "", err
	}
	v, err := s.Store.GetVersion(ctx, p.AccountID, fileUUID, versionUUID)
	if errors.Is(err, apperr.ErrNotFound) {
		return "", apperr.New(apperr.KindNotFound, "version_not_found", "file "+fileUUID+" has no version "+versionUUID)
	}
	if err != nil {
		return "", err
	}
	ttl := s.DownloadTTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	if v.S3Version == "" { // commit records none without one
		return "", fmt.Errorf("version %s of file %s has no S3 version id", versionUUID, fileUUID)
	}
	kind, ctype := files.Delivery(v.MimeType, inline)
	return s.Blobs.PresignGet(ctx, v.Key, v.S3Version, files.ContentDisposition(kind, v.Name), ctype, ttl)
}
