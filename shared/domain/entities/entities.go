// Package entities holds the CRM entity directory (leads, deals, contacts …
// referenced by UUID or by a per-type numeric code, with titles) and the
// attachments of files to entities: media, notes and versioned field values.
package entities

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/text"
)

// Type is a CRM entity type.
type Type string

// The entity types of the seeds: Kommo (lead, contact, company), Wegly
// (lead, deal) and ONLYOFFICE (contact, opportunity, case), plus customer.
const (
	Lead        Type = "lead"
	Deal        Type = "deal"
	Contact     Type = "contact"
	Company     Type = "company"
	Customer    Type = "customer"
	Opportunity Type = "opportunity"
	Case        Type = "case"
)

// Types lists every entity type.
var Types = []Type{Lead, Deal, Contact, Company, Customer, Opportunity, Case}

// ParseType validates an entity type named by field.
func ParseType(field, s string) (Type, error) {
	t := Type(strings.ToLower(s))
	if !slices.Contains(Types, t) {
		return "", apperr.Invalid(field, "must be one of lead, deal, contact, company, customer, opportunity, case")
	}
	return t, nil
}

// MaxCode bounds numeric codes (ONLYOFFICE's ids are int32; CRMs' codes fit
// in 15 digits; JSON numbers stay exact below 2^53).
const MaxCode = 1<<53 - 1

// MaxTitle bounds an entity title in characters.
const MaxTitle = 255

// Entity is one directory entry.
type Entity struct {
	AccountID string    `json:"-"`
	Type      Type      `json:"type"`
	UUID      string    `json:"uuid"`
	Code      int64     `json:"code"`
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedBy string    `json:"updated_by"`
}

// Ref is the entity's reference, resolved: its UUID and its code.
func (e Entity) Ref() Ref { return Ref{Type: e.Type, UUID: e.UUID, Code: e.Code} }

// Ref names an entity by UUID or by numeric code.
type Ref struct {
	Type Type
	UUID string // set when referenced by UUID
	Code int64  // set when referenced by code
}

func (r Ref) String() string {
	if r.UUID != "" {
		return string(r.Type) + " " + r.UUID
	}
	return string(r.Type) + " " + strconv.FormatInt(r.Code, 10)
}

// ParseRef validates "a UUID or a numeric code" for an entity type; field
// names the id in errors.
func ParseRef(t Type, field, id string) (Ref, error) {
	if id == "" {
		return Ref{}, apperr.Invalid(field, "is required: the entity's UUID or numeric code")
	}
	if allDigits(id) {
		n, err := ParseCode(field, id)
		return Ref{Type: t, Code: n}, err
	}
	if u, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return Ref{}, apperr.Invalid(field, "must be the entity's UUID (like 3c90c3cc-0d44-4b50-8888-8dd25736052a) or its numeric code")
	} else {
		id = u.String()
	}
	return Ref{Type: t, UUID: id}, nil
}

// ParseCode validates a positive numeric code.
func ParseCode(field, s string) (int64, error) {
	if !allDigits(s) || len(s) > 16 {
		return 0, apperr.Invalid(field, fmt.Sprintf("must be a numeric code from 1 to %d", int64(MaxCode)))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > MaxCode {
		return 0, apperr.Invalid(field, fmt.Sprintf("must be a numeric code from 1 to %d", int64(MaxCode)))
	}
	return n, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ValidateText checks a title or note: at most max characters under the
// rules of every user-visible string (text.Check; newlines and tabs
// allowed when multiline).
func ValidateText(field, s string, max int, multiline bool) error {
	return text.Check(field, s, text.Rules{MaxRunes: max, Multiline: multiline})
}

// Kind is how a file is attached to an entity.
type Kind string

const (
	// KindMedia: attached to the entity's card (its Media tab).
	KindMedia Kind = "media"
	// KindNote: attached through a note (shown on the Media tab too).
	KindNote Kind = "note"
	// KindField: the value of a file field, pinned to a version; field
	// values are not shown on the Media tab.
	KindField Kind = "field"
)

// Kinds lists every kind.
var Kinds = []Kind{KindMedia, KindNote, KindField}

// MediaTab are the kinds the Media tab shows.
var MediaTab = []Kind{KindMedia, KindNote}

// ParseKind validates a kind; empty means media.
func ParseKind(field, s string) (Kind, error) {
	if s == "" {
		return KindMedia, nil
	}
	k := Kind(s)
	if !slices.Contains(Kinds, k) {
		return "", apperr.Invalid(field, "must be media, note or field")
	}
	return k, nil
}

// MaxRefID bounds note and field ids.
const MaxRefID = 128

// Attachment links a file to an entity. Media attachments are unique per
// (entity, file); notes per note id; field values per field id.
type Attachment struct {
	Entity Ref // resolved: UUID is always set (and Code, where events need it)
	// Title is the entity's title when the attachment was asked for:
	// its events show it, with the code (attachment rows keep neither).
	Title       string
	FileUUID    string
	Kind        Kind
	RefID       string // note id (note) or field id (field); empty for media
	VersionUUID string // field values: the pinned version
	FileCreated time.Time
	AttachedAt  time.Time
	AttachedBy  string
}

// Spec is one requested attachment, before it is resolved.
type Spec struct {
	FileUUID    string `json:"file_uuid"`
	Kind        Kind   `json:"kind,omitempty"`
	NoteID      string `json:"note_id,omitempty"`
	FieldID     string `json:"field_id,omitempty"`
	VersionUUID string `json:"version_uuid,omitempty"`
}

// RefID is the note or field id the spec carries.
func (s Spec) RefID() string {
	if s.Kind == KindNote {
		return s.NoteID
	}
	if s.Kind == KindField {
		return s.FieldID
	}
	return ""
}

// TargetSpec validates, under prefix, how a file not uploaded yet is to
// be attached (an upload session's attach targets, a file request's): its
// kind, media by default, and its note or field id. The spec names no
// file.
func TargetSpec(prefix, kind, noteID, fieldID string, errs *apperr.Fields) Spec {
	s := Spec{FileUUID: uuid.Nil.String(), Kind: Kind(kind), NoteID: noteID, FieldID: fieldID}
	s.Validate(prefix, errs)
	return s
}

// Validate checks one spec; prefix names it in errors ("files[2]").
func (s *Spec) Validate(prefix string, errs *apperr.Fields) {
	if _, err := uuid.Parse(s.FileUUID); err != nil || len(s.FileUUID) != 36 {
		errs.Add(prefix+".file_uuid", "must be a file UUID")
	}
	k, err := ParseKind(prefix+".kind", string(s.Kind))
	if err != nil {
		errs.Add(prefix+".kind", "must be media, note or field")
		return
	}
	s.Kind = k
	ref := func(name, v string, want bool) {
		switch {
		case want && v == "":
			errs.Add(prefix+"."+name, "is required for kind "+string(k))
		case !want && v != "":
			errs.Add(prefix+"."+name, "is only allowed with kind "+map[string]string{"note_id": "note", "field_id": "field"}[name])
		case v != "":
			if e := ValidateText(prefix+"."+name, v, MaxRefID, false); e != nil || strings.Contains(v, "#") {
				errs.Add(prefix+"."+name, fmt.Sprintf("must be 1 to %d printable characters without '#'", MaxRefID))
			}
		}
	}
	ref("note_id", s.NoteID, k == KindNote)
	ref("field_id", s.FieldID, k == KindField)
	if s.VersionUUID != "" {
		if k != KindField {
			errs.Add(prefix+".version_uuid", "pins a version of a field value: only allowed with kind field")
		} else if _, err := uuid.Parse(s.VersionUUID); err != nil || len(s.VersionUUID) != 36 {
			errs.Add(prefix+".version_uuid", "must be a version UUID")
		}
	}
}
