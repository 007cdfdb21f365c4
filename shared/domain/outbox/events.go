// Package outbox is what integrations learn without polling: every state
// change writes the events it causes in its own transaction (an outbox
// record), so there is no event without its change and no change without
// its event, whichever step crashes. The feed reads them back per account
// in order; the dispatcher routes them (EventBridge, webhooks).
package outbox

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/files"
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
	BatchCreated       Type = "batch.created"    // a Wegly batch, with its files
	SessionExpired     Type = "session.expired"  // an upload session that expired open: its parts are gone
	WebhookDisabled    Type = "webhook.disabled" // an endpoint that kept failing, switched off
)

// Types lists every event type.
var Types = []Type{FileCreated, FileVersionCreated, FilePromoted, FileTrashed, FileRestored, FilePurged,
	FileAttached, FileDetached, BatchCreated, SessionExpired, WebhookDisabled}

// Retention is how long events are kept (the feed can replay them).
const Retention = 30 * 24 * time.Hour

// Event is one thing that happened in an account.
type Event struct {
	ID   string          `json:"id"`
	Type Type            `json:"type"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data"`
}

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
	r.Events = append(r.Events, Event{ID: newID(), Type: t, Time: r.At, Data: b})
	return r
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
	File    files.File     `json:"file"`
	Version *files.Version `json:"version,omitempty"` // file.version_created, file.promoted
	Source  string         `json:"source,omitempty"`  // what made it: session, form, batch, sweeper
}

// Entity names an entity in a payload.
type Entity struct {
	Type string `json:"type"`
	UUID string `json:"uuid"`
}

// AttachmentData is the payload of file.attached and file.detached.
type AttachmentData struct {
	FileUUID    string      `json:"file_uuid"`
	Entity      Entity      `json:"entity"`
	Kind        string      `json:"kind"`
	NoteID      string      `json:"note_id,omitempty"`
	FieldID     string      `json:"field_id,omitempty"`
	VersionUUID string      `json:"version_uuid,omitempty"` // a field value's pinned version
	File        *files.File `json:"file,omitempty"`
}

// BatchData is the payload of batch.created.
type BatchData struct {
	ID     string       `json:"id"`
	Title  *string      `json:"title"`
	Entity Entity       `json:"entity"`
	Files  []files.File `json:"files"`
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
	return NewRecord(f.AccountID, at).Add(t, FileData{File: f, Version: v, Source: source})
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
