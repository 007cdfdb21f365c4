// Package files holds the file and version records and the rules for file
// names: validation, sanitizing, extension, MIME type and kind.
package files

import (
	"mime"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/text"
)

// File is the catalogue record of one file; its bytes are the main version.
type File struct {
	AccountID     string     `json:"-"`
	UUID          string     `json:"uuid"`
	ID            int64      `json:"id"`
	VersionUUID   string     `json:"version_uuid"`
	Name          string     `json:"name"`
	SanitizedName string     `json:"sanitized_name"`
	Extension     string     `json:"extension"`
	Type          string     `json:"type"`
	MimeType      string     `json:"mime_type"`
	Size          int64      `json:"size"`
	TotalBytes    int64      `json:"-"` // all versions together: what the file holds of the quota
	VersionCount  int64      `json:"version_count"`
	Source        string     `json:"source"`
	IsTrashed     bool       `json:"is_trashed"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	DeletedAt     *time.Time `json:"deleted_at"`
	PurgeAt       *time.Time `json:"purge_at"`
	CreatedBy     string     `json:"created_by"`
	UpdatedBy     string     `json:"updated_by"`
	DeletedBy     *string    `json:"deleted_by"`
	// Scan is the main version's malware verdict.
	Scan Scan `json:"scan"`
	// Previews are the main version's (none until rendered).
	Previews Previews `json:"previews"`
}

// Gone reports a trashed file whose purge time has passed: it is treated
// as deleted even before DynamoDB TTL removes the item.
func (f File) Gone(now time.Time) bool {
	return f.IsTrashed && f.PurgeAt != nil && !now.Before(*f.PurgeAt)
}

// Version is one immutable upload of a file's bytes.
type Version struct {
	AccountID   string    `json:"-"`
	FileUUID    string    `json:"file_uuid"`
	UUID        string    `json:"version_uuid"`
	Name        string    `json:"name"`
	MimeType    string    `json:"mime_type"`
	Size        int64     `json:"size"`
	Key         string    `json:"-"` // S3 object key
	S3Version   string    `json:"-"` // S3 version id of the object
	Checksum    string    `json:"checksum,omitempty"`
	ChecksumAlg string    `json:"checksum_algorithm,omitempty"`
	SessionID   string    `json:"session_id"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	Scan        Scan      `json:"scan"`
	// Previews are images rendered from its bytes (none until rendered,
	// nor for a format that has none).
	Previews Previews `json:"previews"`
	// Request is the file request it was sent to, when it came through
	// one's link.
	Request *Requested `json:"file_request,omitempty"`
}

// Requested names the file request a version was sent to: which slot,
// and who sent it (as they said: never verified).
type Requested struct {
	ID            string `json:"id"`
	Slot          string `json:"slot"`
	UploaderName  string `json:"uploader_name"`
	UploaderEmail string `json:"uploader_email"`
}

// ObjectKey is where a version's bytes live. User-supplied names never
// become keys.
func ObjectKey(accountID, fileUUID, versionUUID string) string {
	return accountID + "/" + fileUUID + "/" + versionUUID
}

// ParseObjectKey splits an object key into its ids.
func ParseObjectKey(key string) (account, file, version string, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// MaxNameBytes bounds a file name, as most file systems do.
const MaxNameBytes = 255

// ValidateName checks a user-supplied file name: the rules of every
// user-visible string (text.Check) within MaxNameBytes, and a bare name.
func ValidateName(field, name string) error {
	if name == "" {
		return apperr.Invalid(field, "is required")
	}
	if err := text.Check(field, name, text.Rules{MaxBytes: MaxNameBytes}); err != nil {
		return err
	}
	switch {
	case strings.ContainsAny(name, `/\`):
		return apperr.Invalid(field, "must be a bare file name without path separators")
	case strings.TrimSpace(name) == "" || name == "." || name == "..":
		return apperr.Invalid(field, "must name a file")
	case strings.TrimSpace(name) != name:
		return apperr.Invalid(field, "must not start or end with white space")
	}
	return nil
}

// Extension returns the lower-case extension without the dot ("" if none).
func Extension(name string) string {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	if len(ext) > 16 || ext == "" {
		return ""
	}
	for _, r := range ext {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return ""
		}
	}
	return ext
}

// Sanitize maps a name to a portable ASCII form: letters, digits, '.', '-'
// and '_' survive; anything else becomes '_', runs collapse.
func Sanitize(name string) string {
	var b strings.Builder
	lastUnderscore := false
	for _, r := range name {
		ok := r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_')
		if !ok {
			r = '_'
		}
		if r == '_' && lastUnderscore {
			continue
		}
		lastUnderscore = r == '_'
		b.WriteRune(r)
	}
	s := strings.Trim(b.String(), "._")
	if s == "" {
		s = "file"
		if ext := Extension(name); ext != "" {
			s += "." + ext
		}
	}
	return s
}

var extraTypes = map[string]string{
	"pdf": "application/pdf", "doc": "application/msword", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"xls": "application/vnd.ms-excel", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"ppt": "application/vnd.ms-powerpoint", "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	"odt": "application/vnd.oasis.opendocument.text", "ods": "application/vnd.oasis.opendocument.spreadsheet",
	"txt": "text/plain", "csv": "text/csv", "json": "application/json", "xml": "application/xml", "html": "text/html",
	"rtf": "application/rtf", "md": "text/markdown", "zip": "application/zip", "gz": "application/gzip",
	"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
	"svg": "image/svg+xml", "heic": "image/heic", "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff",
	"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "avi": "video/x-msvideo", "mkv": "video/x-matroska",
	"mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "m4a": "audio/mp4", "flac": "audio/flac",
}

// MimeType chooses the stored media type: the client's, when it is a valid
// media type, else one derived from the extension.
func MimeType(contentType, name string) (string, error) {
	if contentType != "" {
		mt, params, err := mime.ParseMediaType(contentType)
		if err != nil || len(contentType) > 255 || !strings.Contains(mt, "/") {
			return "", apperr.Invalid("content_type", "must be a media type such as application/pdf")
		}
		return mime.FormatMediaType(mt, params), nil
	}
	if t, ok := extraTypes[Extension(name)]; ok {
		return t, nil
	}
	return "application/octet-stream", nil
}

// Kind classifies a file for listing: image, video, audio, document or file.
func Kind(mimeType, ext string) string {
	major, _, _ := strings.Cut(mimeType, "/")
	switch major {
	case "image", "video", "audio":
		return major
	}
	switch ext {
	case "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "txt", "csv", "rtf", "md", "html", "json", "xml":
		return "document"
	}
	if major == "text" {
		return "document"
	}
	return "file"
}
