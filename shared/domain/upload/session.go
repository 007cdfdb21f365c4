// Package upload runs resumable multipart upload sessions: the plan of parts,
// presigned part URLs, resume from what S3 holds, and a completion that is
// idempotent and safe to retry after a crash between any two steps.
package upload

import (
	"time"

	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
)

// Status of a session.
type Status string

const (
	StatusOpen      Status = "open"
	StatusCompleted Status = "completed"
	StatusAborted   Status = "aborted"
	StatusExpired   Status = "expired" // derived: open past ExpiresAt
)

// Session is one upload in progress (or finished).
type Session struct {
	AccountID   string
	ID          string
	FileUUID    string
	VersionUUID string
	NewFile     bool
	FileID      int64 // numeric id, reserved at open for new files
	FileName    string
	MimeType    string
	Plan        Plan
	Checksum    *Checksum
	Key         string
	UploadID    string
	Status      Status
	CreatedAt   time.Time
	ExpiresAt   time.Time
	CompletedAt time.Time
	CreatedBy   string
	TokenID     string
	// Attach lists the attachments completion records with the file
	// (entities resolved at open; file and times filled in at completion).
	Attach []entities.Attachment
	// Request, when set, is the file request the session brings a file
	// to: its completion records the file on the request (and attaches
	// it as the request says).
	Request *files.Requested
}

// form reports a browser form upload (one POST of the whole object).
func (s Session) form() bool { return s.UploadID == "" && s.Plan.PartCount > 0 }

// empty reports an empty file's session: no parts, no multipart upload.
func (s Session) empty() bool { return s.UploadID == "" && s.Plan.PartCount == 0 }

// StatusAt is the status as a client sees it at now.
func (s Session) StatusAt(now time.Time) Status {
	if s.Status == StatusOpen && !now.Before(s.ExpiresAt) {
		return StatusExpired
	}
	return s.Status
}

// file builds the catalogue record this session produces.
func (s Session) file(prev files.File, now time.Time) files.File {
	f := prev
	if s.NewFile {
		f = files.File{AccountID: s.AccountID, UUID: s.FileUUID, ID: s.FileID, CreatedAt: now, CreatedBy: s.CreatedBy, Source: "api"}
		if s.Request != nil {
			f.Source = "file_request"
		}
	}
	ext := files.Extension(s.FileName)
	f.VersionUUID = s.VersionUUID
	f.Name = s.FileName
	f.SanitizedName = files.Sanitize(s.FileName)
	f.Extension = ext
	f.MimeType = s.MimeType
	f.Type = files.Kind(s.MimeType, ext)
	f.Size = s.Plan.Size
	f.TotalBytes += s.Plan.Size
	f.UpdatedAt = now
	f.UpdatedBy = s.CreatedBy
	f.VersionCount++
	f.Previews = nil // the new main version's: none until rendered
	return f
}

// attachments are the session's attachments of file f, made at now.
func (s Session) attachments(f files.File, now time.Time) []entities.Attachment {
	out := make([]entities.Attachment, len(s.Attach))
	for i, a := range s.Attach {
		a.FileUUID, a.FileCreated, a.AttachedAt, a.AttachedBy = f.UUID, f.CreatedAt, now, s.CreatedBy
		if a.Kind == entities.KindField {
			a.VersionUUID = s.VersionUUID // the field's value is this upload
		}
		out[i] = a
	}
	return out
}

func (s Session) version(s3Version string, now time.Time) files.Version {
	v := files.Version{AccountID: s.AccountID, FileUUID: s.FileUUID, UUID: s.VersionUUID, Name: s.FileName,
		MimeType: s.MimeType, Size: s.Plan.Size, Key: s.Key, S3Version: s3Version, SessionID: s.ID,
		CreatedAt: now, CreatedBy: s.CreatedBy, Request: s.Request}
	if s.Checksum != nil {
		v.Checksum, v.ChecksumAlg = s.Checksum.Value, s.Checksum.Algorithm
	}
	return v
}
