// Package outbox is what integrations learn without polling: every state
// change writes the events it causes in its own transaction (an outbox
// record), so there is no event without its change and no change without
// its event, whichever step crashes. The feed reads them back per account
// in order; the dispatcher routes them (EventBridge, webhooks).
package outbox

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/links"
)

// Type names what happened.
type Type string

// The event types.
const (
	FileCreated        Type = "file.created"         // a new file, by an upload session, a form upload or a batch
	FileVersionCreated Type = "file.version_created" // a new version of a file (now its main version)
	FilePromoted       Type = "file.promoted"        // an older version made main again
	FileTrashed        Type = "file.trashed"
	FileRestored       Type = "file.restored"
	FilePurged         Type = "file.purged" // deleted for good: by request, or by the sweeper when its trash time ran out
	FileAttached       Type = "file.attached"
	FileDetached       Type = "file.detached"
	FileScanned        Type = "file.scanned"        // a version's malware verdict (data.version.scan)
	FileInfected       Type = "file.infected"       // a version found infected (with its file.scanned)
	FileVersionPurged  Type = "file.version_purged" // an infected version's bytes erased after its quarantine (its record stays)
	FilePreviewReady   Type = "file.preview_ready"  // a version's previews rendered (data.version.previews)
	BatchCreated       Type = "batch.created"       // a Wegly batch, with its files
	SessionExpired     Type = "session.expired"     // an upload session that expired open: its parts are gone
	WebhookDisabled    Type = "webhook.disabled"    // an endpoint that kept failing, switched off
	// WebhookDeliveryFailed: a delivery given up after its last attempt
	// (delivered to every webhook but the one it is about).
	WebhookDeliveryFailed Type = "webhook.delivery_failed"
	// WebhookTest is what POST /v1/webhooks/{id}/test sends (to that
	// webhook only; never in the feed or on the bus).
	WebhookTest Type = "webhook.test"
	// The file requests' events.
	FileRequestCreated      Type = "file_request.created"
	FileRequestFileReceived Type = "file_request.file_received" // a file uploaded through the request's link
	FileRequestFulfilled    Type = "file_request.fulfilled"     // every required slot holds an attached file
	FileRequestRevoked      Type = "file_request.revoked"
)

// Kind is an entry of the event catalogue (GET /v1/event-types).
type Kind struct {
	Type        Type
	Description string
	// Schema names the OpenAPI document's schema of the event's data.
	Schema string
}

// Catalogue is every event type, described.
var Catalogue = []Kind{
	{FileCreated, "A new file: by an upload session, a form upload, a Wegly batch or Kommo's relayed upload. Its data is the file as the API shows it.", "FileEventData"},
	{FileVersionCreated, "A new version of a file, now its main version (data.version).", "FileEventData"},
	{FilePromoted, "An older version made the main version again (data.version).", "FileEventData"},
	{FileTrashed, "A file moved to the trash: hidden from listings, restorable until its trash time runs out.", "FileEventData"},
	{FileRestored, "A file taken back out of the trash.", "FileEventData"},
	{FilePurged, "A file deleted for good, with every version: by request, or by the sweeper when its trash time ran out (source sweeper).", "FileEventData"},
	{FileAttached, "A file attached to an entity (a lead, a deal, a contact…): to its media, a note or a field.", "AttachmentEventData"},
	{FileDetached, "A file detached from an entity.", "AttachmentEventData"},
	{FileScanned, "A version's malware scan came back: data.version.scan has the verdict (clean, infected, unsupported or failed); data.file.scan changes with it when the version is the main one.", "FileEventData"},
	{FileInfected, "A version found infected: it is never served, attached or made main, and its bytes are erased when its quarantine ends (data.version.scan.purge_at). Written with the version's file.scanned.", "FileEventData"},
	{FileVersionPurged, "An infected version's bytes erased by the sweeper when its quarantine ended (data.version.scan.purged_at): they leave the account's usage; the version's record stays.", "FileEventData"},
	{FilePreviewReady, "A version's previews were rendered (data.version.previews: size, width, height, type); data.file.previews changes with them when the version is the main one. Read the file or the version for their signed URLs.", "FileEventData"},
	{BatchCreated, "A Wegly batch: its files, uploaded together and attached to one entity. Its files' file.created, then their file.attached, follow it in the same change.", "BatchEventData"},
	{SessionExpired, "An upload session that expired open: its parts are gone, nothing was created.", "SessionEventData"},
	{WebhookDisabled, "A webhook switched off after a day of failed deliveries (reason failing).", "WebhookEventData"},
	{WebhookDeliveryFailed, "A delivery given up after its last attempt: which webhook, which event, the last error. Sent to the account's other webhooks, not to the one it is about.", "DeliveryFailedEventData"},
	{WebhookTest, "A test delivery (POST /v1/webhooks/{id}/test), to that webhook only.", "WebhookTestEventData"},
	{FileRequestCreated, "A file request: a link that asks someone outside the account for documents, bound to an entity.", "FileRequestEventData"},
	{FileRequestFileReceived, "A file uploaded through a request's link (data.receipt: the slot, the file, who sent it). Written with the file's file.created; its file.attached follows at once, or after its malware verdict when the deployment scans (an infected file is refused, never attached).", "FileRequestEventData"},
	{FileRequestFulfilled, "Every required slot of a request holds an attached file (a request without required slots: its first attached file). The request still takes files until it expires or is revoked.", "FileRequestEventData"},
	{FileRequestRevoked, "A file request withdrawn: its link takes nothing more and shows nothing.", "FileRequestEventData"},
}

// Types lists every event type.
var Types = func() []Type {
	out := make([]Type, len(Catalogue))
	for i, k := range Catalogue {
		out[i] = k.Type
	}
	return out
}()

// Retention is how long events are kept (the feed can replay them).
const Retention = 30 * 24 * time.Hour

// Event is one thing that happened in an account.
type Event struct {
	ID   string    `json:"id"`
	Type Type      `json:"type"`
	Time time.Time `json:"time"`
	// Version is the version of the payload's schema the event was written
	// in (PayloadVersion then): within a version fields are only added.
	Version int `json:"version"`
	// Sequence is the event's place in its account's feed: sequences sort
	// (as strings) in the feed's order, the events of one change
	// consecutive. Set when the event is read (Record.Sequenced), never
	// stored.
	Sequence string          `json:"sequence,omitempty"`
	Data     json.RawMessage `json:"data"`
}

// PayloadVersion is the version of the payloads written now. Fields are
// added within a version (receivers ignore what they do not know); a
// change that removes or retypes one makes a new version (README:
// Webhooks, compatibility).
const PayloadVersion = 1

// Record is the events of one state change, written in the change's
// transaction: one item whatever their number (a batch of 20 files is one
// record), ordered in its account by (At, ID).
type Record struct {
	AccountID string
	ID        string // UUIDv7
	At        time.Time
	Events    []Event
	// Position is where the store keeps it (set when read): the feed
	// resumes after it.
	Position string
}

// NewRecord starts the record of a change in account at at.
func NewRecord(account string, at time.Time) *Record {
	return &Record{AccountID: account, ID: newID(), At: at.UTC().Truncate(time.Microsecond)}
}

// Add appends an event of type t with data (marshalled as the API shows
// it); it returns the record for chaining.
func (r *Record) Add(t Type, data any) *Record {
	b, err := json.Marshal(data)
	if err != nil {
		panic("events: " + string(t) + ": " + err.Error()) // payloads are plain structs
	}
	r.Events = append(r.Events, Event{ID: newID(), Type: t, Time: r.At, Version: PayloadVersion, Data: b})
	return r
}

// Sequenced returns the record's events as they leave the service: each
// with its sequence, and the first version on those written before events
// carried one.
func (r Record) Sequenced() []Event {
	out := make([]Event, len(r.Events))
	prefix := r.At.UTC().Format("20060102T150405.000000Z") + "-" + r.ID + "-"
	for i, e := range r.Events {
		e.Sequence = prefix + fmt.Sprintf("%03d", i)
		if e.Version == 0 {
			e.Version = 1
		}
		out[i] = e
	}
	return out
}

// Envelopes is the record's events with its account: what the bus and the
// webhooks get.
func (r Record) Envelopes() []Envelope {
	out := make([]Envelope, len(r.Events))
	for i, e := range r.Sequenced() {
		out[i] = Envelope{Event: e, AccountID: r.AccountID}
	}
	return out
}

// Empty reports a record with no event (nothing to write).
func (r *Record) Empty() bool { return r == nil || len(r.Events) == 0 }

// Types is the set of its events' types.
func (r *Record) Types() []Type {
	var out []Type
	seen := map[Type]bool{}
	for _, e := range r.Events {
		if !seen[e.Type] {
			seen[e.Type] = true
			out = append(out, e.Type)
		}
	}
	return out
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// The payloads: compact, the file as the API shows it.

// FileData is the payload of the file events.
type FileData struct {
	File    File     `json:"file"`
	Version *Version `json:"version,omitempty"` // file.version_created, file.promoted
	Source  string   `json:"source,omitempty"`  // what made it: session, form, batch, sweeper
}

// File is a file as the API shows it, with its links.
type File struct {
	files.File
	Links links.Set `json:"_links"`
}

// FileOf is f as events show it.
func FileOf(f files.File) File { return File{File: f, Links: links.File(f.UUID)} }

// Version is a version as events show it, with its links.
type Version struct {
	files.Version
	Links links.Set `json:"_links"`
}

// VersionOf is v as events show it.
func VersionOf(v files.Version) *Version {
	return &Version{Version: v, Links: links.Version(v.FileUUID, v.UUID)}
}

// Entity names an entity in a payload: its type and UUID, the CRM's
// numeric code and its title (as the directory had them when the change
// was made), and its links.
type Entity struct {
	Type  string    `json:"type"`
	UUID  string    `json:"uuid"`
	Code  int64     `json:"code"`
	Title string    `json:"title"`
	Links links.Set `json:"_links"`
}

// EntityOf names an entity in a payload.
func EntityOf(typ, uuid string, code int64, title string) Entity {
	return Entity{Type: typ, UUID: uuid, Code: code, Title: title, Links: links.Entity(typ, uuid)}
}

// AttachmentData is the payload of file.attached and file.detached.
type AttachmentData struct {
	FileUUID    string `json:"file_uuid"`
	Entity      Entity `json:"entity"`
	Kind        string `json:"kind"`
	NoteID      string `json:"note_id,omitempty"`
	FieldID     string `json:"field_id,omitempty"`
	VersionUUID string `json:"version_uuid,omitempty"` // a field value's pinned version
	File        *File  `json:"file,omitempty"`
}

// BatchData is the payload of batch.created.
type BatchData struct {
	ID     string  `json:"id"`
	Title  *string `json:"title"`
	Entity Entity  `json:"entity"`
	Files  []File  `json:"files"`
}

// SessionData is the payload of session.expired.
type SessionData struct {
	ID          string    `json:"id"`
	FileUUID    string    `json:"file_uuid"`
	VersionUUID string    `json:"version_uuid"`
	NewFile     bool      `json:"new_file"`
	FileName    string    `json:"file_name"`
	FileSize    int64     `json:"file_size"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// OfFile is the record of a change to one file: an event of type t whose
// payload is the file as it is after the change (and the version
// concerned, if any); source says what made it when that is not a request.
func OfFile(t Type, f files.File, v *files.Version, source string, at time.Time) *Record {
	d := FileData{File: FileOf(f), Source: source}
	if v != nil {
		d.Version = VersionOf(*v)
	}
	return NewRecord(f.AccountID, at).Add(t, d)
}

// FileRequestData is the payload of the file_request events.
type FileRequestData struct {
	FileRequest FileRequest         `json:"file_request"`
	Receipt     *FileRequestReceipt `json:"receipt,omitempty"` // file_request.file_received
}

// FileRequest is a file request in a payload.
type FileRequest struct {
	ID        string            `json:"id"`
	Title     string            `json:"title"`
	Status    string            `json:"status"`
	Entity    Entity            `json:"entity"`
	ExpiresAt time.Time         `json:"expires_at"`
	Slots     []FileRequestSlot `json:"slots"`
	Received  int               `json:"received"` // files received (refused ones included)
	Links     links.Set         `json:"_links"`
}

// FileRequestSlot is a slot in a payload: how many files it holds.
type FileRequestSlot struct {
	Name     string `json:"name"`
	Required bool   `json:"required"`
	Received int    `json:"received"`
}

// FileRequestReceipt is a received file in a payload.
type FileRequestReceipt struct {
	Slot          string    `json:"slot"`
	FileUUID      string    `json:"file_uuid"`
	VersionUUID   string    `json:"version_uuid"`
	Name          string    `json:"name"`
	Size          int64     `json:"size"`
	MimeType      string    `json:"mime_type"`
	UploaderName  string    `json:"uploader_name"`
	UploaderEmail string    `json:"uploader_email"`
	Status        string    `json:"status"`
	ReceivedAt    time.Time `json:"received_at"`
}

// DeliveryFailedData is the payload of webhook.delivery_failed.
type DeliveryFailedData struct {
	WebhookID string    `json:"webhook_id"`
	URL       string    `json:"url"`
	EventID   string    `json:"event_id"` // the delivery's id: the event's, its webhook-id header
	EventType Type      `json:"event_type"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	FailedAt  time.Time `json:"failed_at"`
}

// TestData is the payload of webhook.test.
type TestData struct {
	WebhookID string `json:"webhook_id"`
	Message   string `json:"message"`
}

// WebhookData is the payload of webhook.disabled.
type WebhookData struct {
	ID         string    `json:"id"`
	URL        string    `json:"url"`
	Reason     string    `json:"reason"`
	DisabledAt time.Time `json:"disabled_at"`
}

// Envelope is an event as it leaves the service: on the EventBridge bus
// (the entry's detail) and in a webhook's body — the feed's event with its
// account.
type Envelope struct {
	Event
	AccountID string `json:"account_id"`
}
