package dynamo

import (
	"strings"
	"time"

	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/upload"
)

// Item shapes as stored. Times are fixed-width UTC strings (sortable).

type accountItem struct {
	PK           string `dynamodbav:"pk"`
	SK           string `dynamodbav:"sk"`
	ID           string `dynamodbav:"account_id"`
	Name         string `dynamodbav:"name"`
	QuotaBytes   int64  `dynamodbav:"quota_bytes,omitempty"`
	Avail        int64  `dynamodbav:"avail"`
	UsedBytes    int64  `dynamodbav:"used_bytes"`
	TrashedBytes int64  `dynamodbav:"trashed_bytes"`
	FileCount    int64  `dynamodbav:"file_count"`
	VersionCount int64  `dynamodbav:"version_count"`
	NextFileID   int64  `dynamodbav:"next_file_id"`
	CreatedAt    string `dynamodbav:"created_at"`
	ScanPending  string `dynamodbav:"scan_pending,omitempty"` // files.Settings
}

func (a accountItem) usage() files.Usage {
	return files.Usage{UsedBytes: a.UsedBytes, TrashedBytes: a.TrashedBytes, QuotaBytes: a.QuotaBytes, FileCount: a.FileCount, VersionCount: a.VersionCount}
}

type sessionItem struct {
	PK          string          `dynamodbav:"pk"`
	SK          string          `dynamodbav:"sk"`
	ID          string          `dynamodbav:"session_id"`
	FileUUID    string          `dynamodbav:"file_uuid"`
	VersionUUID string          `dynamodbav:"version_uuid"`
	NewFile     bool            `dynamodbav:"new_file"`
	FileID      int64           `dynamodbav:"file_id"`
	FileName    string          `dynamodbav:"file_name"`
	MimeType    string          `dynamodbav:"mime_type"`
	Size        int64           `dynamodbav:"size"`
	PartSize    int64           `dynamodbav:"part_size"`
	PartCount   int             `dynamodbav:"part_count"`
	ChecksumAlg string          `dynamodbav:"checksum_algorithm,omitempty"`
	Checksum    string          `dynamodbav:"checksum,omitempty"`
	Key         string          `dynamodbav:"s3_key"`
	UploadID    string          `dynamodbav:"upload_id"`
	Status      string          `dynamodbav:"status"`
	CreatedAt   string          `dynamodbav:"created_at"`
	ExpiresAt   string          `dynamodbav:"expires_at"`
	CompletedAt string          `dynamodbav:"completed_at,omitempty"`
	CreatedBy   string          `dynamodbav:"created_by"`
	TokenID     string          `dynamodbav:"token_id"`
	TTL         int64           `dynamodbav:"ttl"`
	Attach      []sessionAttach `dynamodbav:"attach,omitempty"`
	Request     *requestedItem  `dynamodbav:"file_request,omitempty"`
	GSI2PK      string          `dynamodbav:"gsi2pk,omitempty"` // until the sweeper's last look
	GSI2SK      string          `dynamodbav:"gsi2sk,omitempty"`
}

// sessionAttach is an attach target kept on a session until completion.
type sessionAttach struct {
	Type  string `dynamodbav:"t"`
	UUID  string `dynamodbav:"u"`
	Kind  string `dynamodbav:"k"`
	RefID string `dynamodbav:"r,omitempty"`
	Code  int64  `dynamodbav:"c,omitempty"` // the entity's, for the events
	Title string `dynamodbav:"n,omitempty"`
}

func (s sessionItem) session(accountID string) upload.Session {
	out := upload.Session{AccountID: accountID, ID: s.ID, FileUUID: s.FileUUID, VersionUUID: s.VersionUUID,
		NewFile: s.NewFile, FileID: s.FileID, FileName: s.FileName, MimeType: s.MimeType,
		Plan: upload.Plan{Size: s.Size, PartSize: s.PartSize, PartCount: s.PartCount}, Key: s.Key, UploadID: s.UploadID,
		Status: upload.Status(s.Status), CreatedAt: parseTS(s.CreatedAt), ExpiresAt: parseTS(s.ExpiresAt),
		CompletedAt: parseTS(s.CompletedAt), CreatedBy: s.CreatedBy, TokenID: s.TokenID, Request: s.Request.requested()}
	if s.ChecksumAlg != "" {
		out.Checksum = &upload.Checksum{Algorithm: s.ChecksumAlg, Value: s.Checksum}
	}
	for _, a := range s.Attach {
		out.Attach = append(out.Attach, entities.Attachment{Entity: entities.Ref{Type: entities.Type(a.Type), UUID: a.UUID, Code: a.Code},
			Title: a.Title, Kind: entities.Kind(a.Kind), RefID: a.RefID})
	}
	return out
}

type fileItem struct {
	PK            string        `dynamodbav:"pk"`
	SK            string        `dynamodbav:"sk"`
	GSI1PK        string        `dynamodbav:"gsi1pk"`
	GSI1SK        string        `dynamodbav:"gsi1sk"`
	UUID          string        `dynamodbav:"uuid"`
	ID            int64         `dynamodbav:"id"`
	VersionUUID   string        `dynamodbav:"version_uuid"`
	Name          string        `dynamodbav:"name"`
	NameLC        string        `dynamodbav:"name_lc"` // lower-cased for name and term filters
	SanitizedName string        `dynamodbav:"sanitized_name"`
	Extension     string        `dynamodbav:"extension"`
	Type          string        `dynamodbav:"type"`
	MimeType      string        `dynamodbav:"mime_type"`
	Size          int64         `dynamodbav:"size"`
	TotalBytes    int64         `dynamodbav:"total_bytes"`
	VersionCount  int64         `dynamodbav:"version_count"`
	Source        string        `dynamodbav:"source"`
	IsTrashed     bool          `dynamodbav:"is_trashed"`
	CreatedAt     string        `dynamodbav:"created_at"`
	UpdatedAt     string        `dynamodbav:"updated_at"`
	DeletedAt     string        `dynamodbav:"deleted_at,omitempty"`
	PurgeAt       string        `dynamodbav:"purge_at,omitempty"`
	CreatedBy     string        `dynamodbav:"created_by"`
	UpdatedBy     string        `dynamodbav:"updated_by"`
	DeletedBy     string        `dynamodbav:"deleted_by,omitempty"`
	TTL           int64         `dynamodbav:"ttl,omitempty"`
	GSI2PK        string        `dynamodbav:"gsi2pk,omitempty"` // trashed files only
	GSI2SK        string        `dynamodbav:"gsi2sk,omitempty"`
	Scan          *scanItem     `dynamodbav:"scan,omitempty"`     // the main version's
	Previews      []previewItem `dynamodbav:"previews,omitempty"` // the main version's
}

// previewItem is a preview as stored (a version's list; absent: none).
type previewItem struct {
	Size   int    `dynamodbav:"s"`
	Width  int    `dynamodbav:"w"`
	Height int    `dynamodbav:"h"`
	Type   string `dynamodbav:"t"`
	Key    string `dynamodbav:"k"`
}

func previewItems(ps files.Previews) []previewItem {
	var out []previewItem
	for _, p := range ps {
		out = append(out, previewItem{Size: p.Size, Width: p.Width, Height: p.Height, Type: p.Type, Key: p.Key})
	}
	return out
}

func previewsOf(items []previewItem) files.Previews {
	var out files.Previews
	for _, p := range items {
		out = append(out, files.Preview{Size: p.Size, Width: p.Width, Height: p.Height, Type: p.Type, Key: p.Key})
	}
	return out
}

// scanItem is a malware verdict as stored (absent: before scanning, off).
type scanItem struct {
	Status    string   `dynamodbav:"s"`
	ScannedAt string   `dynamodbav:"at,omitempty"`
	Threats   []string `dynamodbav:"th,omitempty"`
	Due       string   `dynamodbav:"due,omitempty"` // pending: the sweeper's next look; infected: when its bytes are erased
	Looks     int      `dynamodbav:"n,omitempty"`
	PurgedAt  string   `dynamodbav:"pd,omitempty"` // infected: when its bytes were erased
}

func newScanItem(s files.Scan) *scanItem {
	if s.Status == "" {
		return nil
	}
	it := &scanItem{Status: string(s.Status)}
	if len(s.Threats) > 0 { // never an empty list: minidyn garbles one inside a map
		it.Threats = s.Threats
	}
	if s.ScannedAt != nil {
		it.ScannedAt = ts(*s.ScannedAt)
	}
	if s.Status == files.ScanPending && !s.Due.IsZero() {
		it.Due, it.Looks = ts(s.Due), s.Looks
	}
	if s.PurgeAt != nil {
		it.Due = ts(*s.PurgeAt)
	}
	if s.PurgedAt != nil {
		it.PurgedAt = ts(*s.PurgedAt)
	}
	return it
}

func (s *scanItem) scan() files.Scan {
	if s == nil {
		return files.Scan{}
	}
	sc := files.Scan{Status: files.ScanStatus(s.Status), ScannedAt: optTime(s.ScannedAt), Threats: s.Threats,
		Due: parseTS(s.Due), Looks: s.Looks, PurgedAt: optTime(s.PurgedAt)}
	if sc.Status == files.ScanInfected {
		sc.PurgeAt = optTime(s.Due)
	}
	return sc
}

func newFileItem(f files.File) fileItem {
	it := fileItemOf(f)
	if f.DeletedAt != nil {
		it.DeletedAt = ts(*f.DeletedAt)
	}
	if f.PurgeAt != nil {
		it.PurgeAt, it.TTL = ts(*f.PurgeAt), f.PurgeAt.Unix()
	}
	it.NameLC = strings.ToLower(f.Name)
	if f.DeletedBy != nil {
		it.DeletedBy = *f.DeletedBy
	}
	return it
}

func fileItemOf(f files.File) fileItem {
	return fileItem{PK: accountPK(f.AccountID), SK: fileSK(f.UUID), GSI1PK: filesGSI(f.AccountID), GSI1SK: ts(f.CreatedAt) + "#" + f.UUID,
		UUID: f.UUID, ID: f.ID, VersionUUID: f.VersionUUID, Name: f.Name, NameLC: strings.ToLower(f.Name), SanitizedName: f.SanitizedName,
		Extension: f.Extension, Type: f.Type, MimeType: f.MimeType, Size: f.Size, TotalBytes: f.TotalBytes, VersionCount: f.VersionCount,
		Source: f.Source, IsTrashed: f.IsTrashed, CreatedAt: ts(f.CreatedAt), UpdatedAt: ts(f.UpdatedAt),
		CreatedBy: f.CreatedBy, UpdatedBy: f.UpdatedBy, Scan: newScanItem(f.Scan), Previews: previewItems(f.Previews)}
}

func optTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t := parseTS(s)
	return &t
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (f fileItem) file(accountID string) files.File {
	return files.File{AccountID: accountID, UUID: f.UUID, ID: f.ID, VersionUUID: f.VersionUUID, Name: f.Name,
		SanitizedName: f.SanitizedName, Extension: f.Extension, Type: f.Type, MimeType: f.MimeType, Size: f.Size,
		TotalBytes: f.TotalBytes, VersionCount: f.VersionCount, Source: f.Source, IsTrashed: f.IsTrashed,
		CreatedAt: parseTS(f.CreatedAt), UpdatedAt: parseTS(f.UpdatedAt), DeletedAt: optTime(f.DeletedAt),
		PurgeAt: optTime(f.PurgeAt), CreatedBy: f.CreatedBy, UpdatedBy: f.UpdatedBy, DeletedBy: optString(f.DeletedBy),
		Scan: f.Scan.scan(), Previews: previewsOf(f.Previews)}
}

type versionItem struct {
	PK          string         `dynamodbav:"pk"`
	SK          string         `dynamodbav:"sk"`
	FileUUID    string         `dynamodbav:"file_uuid"`
	UUID        string         `dynamodbav:"version_uuid"`
	Name        string         `dynamodbav:"name"`
	MimeType    string         `dynamodbav:"mime_type"`
	Size        int64          `dynamodbav:"size"`
	Key         string         `dynamodbav:"s3_key"`
	S3Version   string         `dynamodbav:"s3_version,omitempty"`
	Checksum    string         `dynamodbav:"checksum,omitempty"`
	ChecksumAlg string         `dynamodbav:"checksum_algorithm,omitempty"`
	SessionID   string         `dynamodbav:"session_id"`
	CreatedAt   string         `dynamodbav:"created_at"`
	CreatedBy   string         `dynamodbav:"created_by"`
	Scan        *scanItem      `dynamodbav:"scan,omitempty"`
	Previews    []previewItem  `dynamodbav:"previews,omitempty"`
	Request     *requestedItem `dynamodbav:"file_request,omitempty"`
	GSI2PK      string         `dynamodbav:"gsi2pk,omitempty"` // pending a verdict, or quarantined: the sweeper's queue
	GSI2SK      string         `dynamodbav:"gsi2sk,omitempty"`
}

func newVersionItem(v files.Version) versionItem {
	it := versionItem{PK: accountPK(v.AccountID), SK: versionSK(v.FileUUID, v.UUID), FileUUID: v.FileUUID, UUID: v.UUID,
		Name: v.Name, MimeType: v.MimeType, Size: v.Size, Key: v.Key, S3Version: v.S3Version, Checksum: v.Checksum,
		ChecksumAlg: v.ChecksumAlg, SessionID: v.SessionID, CreatedAt: ts(v.CreatedAt), CreatedBy: v.CreatedBy,
		Scan: newScanItem(v.Scan), Previews: previewItems(v.Previews), Request: requestedItemOf(v.Request)}
	if it.Scan != nil && it.Scan.Due != "" && it.Scan.PurgedAt == "" {
		it.GSI2PK, it.GSI2SK = scanQueue(v)
	}
	return it
}

// scanQueue is the sweeper's queue entry of a version pending its
// verdict, or infected until its bytes are erased.
func scanQueue(v files.Version) (string, string) {
	return dueEntry(scansGSI, v.Scan.Due, v.AccountID, v.FileUUID+"#"+v.UUID)
}

func (v versionItem) version(accountID string) files.Version {
	return files.Version{AccountID: accountID, FileUUID: v.FileUUID, UUID: v.UUID, Name: v.Name, MimeType: v.MimeType,
		Size: v.Size, Key: v.Key, S3Version: v.S3Version, Checksum: v.Checksum, ChecksumAlg: v.ChecksumAlg,
		SessionID: v.SessionID, CreatedAt: parseTS(v.CreatedAt), CreatedBy: v.CreatedBy, Scan: v.Scan.scan(), Previews: previewsOf(v.Previews),
		Request: v.Request.requested()}
}

// requestedItem is the file request a session or a version is bound to.
type requestedItem struct {
	ID            string `dynamodbav:"id"`
	Slot          string `dynamodbav:"slot,omitempty"`
	UploaderName  string `dynamodbav:"uploader_name,omitempty"`
	UploaderEmail string `dynamodbav:"uploader_email,omitempty"`
}

func requestedItemOf(r *files.Requested) *requestedItem {
	if r == nil {
		return nil
	}
	return &requestedItem{ID: r.ID, Slot: r.Slot, UploaderName: r.UploaderName, UploaderEmail: r.UploaderEmail}
}

func (it *requestedItem) requested() *files.Requested {
	if it == nil {
		return nil
	}
	return &files.Requested{ID: it.ID, Slot: it.Slot, UploaderName: it.UploaderName, UploaderEmail: it.UploaderEmail}
}
