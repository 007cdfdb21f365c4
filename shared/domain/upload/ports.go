package upload

import (
	"context"
	"errors"
	"time"

	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/requests"
)

// Commit is everything completion writes atomically.
type Commit struct {
	Session Session
	File    files.File // the file as it is after this upload
	Version files.Version
	NewFile bool
	Attach  []entities.Attachment // recorded in the same transaction
	Events  *outbox.Record        // the change's events, in the same transaction
	// Request, for a session bound to a file request, records the file
	// on it (requests.ErrChanged when the request changed since read).
	Request *requests.Write
}

// Errors a Store reports from Commit.
var (
	ErrSessionNotOpen = errors.New("session is not open")
	ErrFileGone       = errors.New("file no longer accepts versions")
)

// Store is the metadata this package needs.
type Store interface {
	// ReserveFileID allocates the next per-account numeric file id and
	// returns the account's usage as of that moment.
	ReserveFileID(ctx context.Context, accountID string) (int64, files.Usage, error)
	// FileWithUsage reads a file and the account's usage together.
	FileWithUsage(ctx context.Context, accountID, fileUUID string) (files.File, files.Usage, error)
	PutSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, accountID, id string) (Session, error)
	// SetSessionStatus moves a session from one status to another; it fails
	// with apperr.ErrConflict when the session is not in from.
	SetSessionStatus(ctx context.Context, accountID, id string, from, to Status, at time.Time) error
	Commit(ctx context.Context, c Commit) error
	GetFile(ctx context.Context, accountID, fileUUID string) (files.File, error)
	GetVersion(ctx context.Context, accountID, fileUUID, versionUUID string) (files.Version, error)
	// GetRequest reads the file request a session is bound to.
	GetRequest(ctx context.Context, accountID, id string) (requests.Request, error)
	// DueSessions lists sessions due for the sweeper's look at before.
	DueSessions(ctx context.Context, before time.Time, limit int) ([]Session, error)
	// RescheduleSession sets the next look at an open session (zero: the
	// session leaves the index).
	// rec, when set, is written with the session leaving the index, once.
	RescheduleSession(ctx context.Context, accountID, id string, at time.Time, rec *outbox.Record) error
}

// Part is one uploaded part as S3 reports it.
type Part struct {
	Number   int32
	ETag     string
	Size     int64
	Checksum string // the part's CRC (base64) when the upload verifies one
}

// Object is a stored object's head.
type Object struct {
	Size      int64
	VersionID string
	// the full-object checksum S3 keeps, if any (HeadObject's checksum mode)
	ChecksumAlg, Checksum string
}

// SignedRequest is a presigned URL and the headers that were signed into it
// and must be sent unchanged.
type SignedRequest struct {
	URL     string
	Method  string
	Headers map[string]string
}

// Blobs is the narrow slice of S3 this package needs.
type Blobs interface {
	CreateUpload(ctx context.Context, key, contentType, checksumAlg string) (uploadID string, err error)
	PresignPart(ctx context.Context, key, uploadID string, part int32, size int64, checksumAlg, checksum string, ttl time.Duration) (SignedRequest, error)
	ListParts(ctx context.Context, key, uploadID string) ([]Part, error)
	CompleteUpload(ctx context.Context, key, uploadID string, parts []Part, checksum *Checksum) (versionID string, err error)
	AbortUpload(ctx context.Context, key, uploadID string) error
	// Versions lists the version ids key has.
	Versions(ctx context.Context, key string) ([]string, error)
	// PutEmpty stores an empty object unless key has one (ErrConflict).
	PutEmpty(ctx context.Context, key, contentType string) (versionID string, err error)
	Head(ctx context.Context, key string) (Object, error)
	DeleteVersion(ctx context.Context, key, versionID string) error
	// PresignPost signs a browser form upload (POST policy) of exactly
	// size bytes to exactly key.
	PresignPost(ctx context.Context, key, contentType string, size int64, ttl time.Duration) (PostForm, error)
}

// PostForm is a presigned POST: the form's action URL and the fields to
// send before the file field.
type PostForm struct {
	URL    string
	Fields map[string]string
}
