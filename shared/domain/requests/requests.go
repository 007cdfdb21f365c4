// Package requests holds file requests: a link that asks someone outside
// the account (a customer, a supplier) for documents — named slots, or a
// number of files — and brings each file, through an ordinary upload
// session bound to the request, into one CRM entity. The link is a
// 256-bit secret kept only as its hash; a passcode may guard it; the
// request closes itself at its expiry and can be revoked at any time.
//
// A received file is recorded on its request in the same transaction as
// the upload's completion (Receive); it is attached to the entity then, or,
// when the deployment scans for malware, once its verdict came and is not
// infected (Settle). An infected file is refused and never attached.
package requests

import (
	"errors"
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/text"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
)

// Status is where a request stands.
type Status string

// The statuses. A fulfilled request (every required slot holds an
// attached file) still takes files until it expires or is revoked.
const (
	StatusOpen      Status = "open"
	StatusFulfilled Status = "fulfilled"
	StatusExpired   Status = "expired"
	StatusRevoked   Status = "revoked"
)

// Statuses lists every status, as the listing filter accepts them.
var Statuses = []Status{StatusOpen, StatusFulfilled, StatusExpired, StatusRevoked}

// Slot is one document a request asks for.
type Slot struct {
	Name     string `json:"name"`
	Required bool   `json:"required"`
	// Accept lists extensions (".pdf") and media types ("application/pdf",
	// "image/*") it takes; none: any file.
	Accept   []string `json:"accept"`
	MaxSize  int64    `json:"max_size"`  // bytes per file (default and at most the request's max_bytes)
	MaxFiles int      `json:"max_files"` // files it takes (default 1)
}

// Uploader is who sent a file, as they said (never verified).
type Uploader struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// ReceiptStatus is where a received file stands.
type ReceiptStatus string

// The receipt statuses.
const (
	ReceiptScanning ReceiptStatus = "scanning" // waiting for its malware verdict before it is attached
	ReceiptAttached ReceiptStatus = "attached"
	ReceiptRefused  ReceiptStatus = "refused" // infected: never attached
	ReceiptDeleted  ReceiptStatus = "deleted" // its file was deleted before its verdict came
)

// Receipt is a file a request received.
type Receipt struct {
	Slot        string        `json:"slot"` // the slot's name ("" in a request without slots)
	FileUUID    string        `json:"file_uuid"`
	VersionUUID string        `json:"version_uuid"`
	Name        string        `json:"name"`
	Size        int64         `json:"size"`
	MimeType    string        `json:"mime_type"`
	Uploader    Uploader      `json:"uploader"`
	ReceivedAt  time.Time     `json:"received_at"`
	Status      ReceiptStatus `json:"status"`
}

// Target is where received files go: an entity, and how they are
// attached to it (media, a note, a field).
type Target struct {
	Entity entities.Ref
	Title  string // the entity's title when the request was made
	Kind   entities.Kind
	RefID  string // the note's or the field's id
}

// Request is a file request as stored.
type Request struct {
	AccountID string
	ID        string // UUIDv7: requests list newest first
	Target    Target
	Title     string
	Message   string
	Slots     []Slot // none: any files, up to MaxFiles
	MaxFiles  int    // files it takes in all
	MaxBytes  int64  // bytes it takes in all
	ExpiresAt time.Time
	// Passcode is the passcode's hash (HashPasscode), "" when none.
	Passcode string
	// LinkHash is the hash of the link's secret (HashLink).
	LinkHash    string
	CreatedAt   time.Time
	CreatedBy   string
	TokenID     string
	RevokedAt   time.Time
	FulfilledAt time.Time
	Received    []Receipt
	// Failures counts wrong passcodes since FailedSince (Lockout).
	Failures    int
	FailedSince time.Time
	// Opens counts the uploads opened through the link since OpensSince
	// (OpenWindow): a link opens at most MaxOpens an hour.
	Opens      int
	OpensSince time.Time
	// Rev counts the request's changes: each write is conditional on the
	// one it read (receipts are recorded against concurrent uploads).
	Rev int64
}

// StatusAt is the request's status at now.
func (r Request) StatusAt(now time.Time) Status {
	switch {
	case !r.RevokedAt.IsZero():
		return StatusRevoked
	case !now.Before(r.ExpiresAt):
		return StatusExpired
	case !r.FulfilledAt.IsZero():
		return StatusFulfilled
	}
	return StatusOpen
}

// holds reports a receipt that counts against the request's limits:
// every one but the refused and the deleted.
func (rc Receipt) holds() bool { return rc.Status != ReceiptRefused && rc.Status != ReceiptDeleted }

// ReceivedBytes is what the request holds of its MaxBytes.
func (r Request) ReceivedBytes() int64 {
	var n int64
	for _, rc := range r.Received {
		if rc.holds() {
			n += rc.Size
		}
	}
	return n
}

// counted is how many receipts count against a slot ("" : all of them).
func (r Request) counted(slot string, all bool) int {
	n := 0
	for _, rc := range r.Received {
		if rc.holds() && (all || rc.Slot == slot) {
			n++
		}
	}
	return n
}

// Held is how many files slot holds (refused and deleted ones aside).
func (r Request) Held(slot string) int { return r.counted(slot, false) }

// slot finds a slot by name.
func (r Request) slot(name string) (Slot, bool) {
	for _, s := range r.Slots {
		if s.Name == name {
			return s, true
		}
	}
	return Slot{}, false
}

// Fulfilled reports whether every required slot holds an attached file
// (a request without required slots: any attached file).
func (r Request) Fulfilled() bool {
	attached := func(slot string, any bool) bool {
		for _, rc := range r.Received {
			if rc.Status == ReceiptAttached && (any || rc.Slot == slot) {
				return true
			}
		}
		return false
	}
	required := 0
	for _, s := range r.Slots {
		if s.Required {
			required++
			if !attached(s.Name, false) {
				return false
			}
		}
	}
	return required > 0 || attached("", true)
}

// Receipt finds the receipt of a version.
func (r Request) Receipt(versionUUID string) (int, bool) {
	for i, rc := range r.Received {
		if rc.VersionUUID == versionUUID {
			return i, true
		}
	}
	return -1, false
}

// Attachment is the attachment of a received file f (version v) to the
// request's entity, made at now by who.
func (r Request) Attachment(f files.File, v files.Version, who string, now time.Time) entities.Attachment {
	a := entities.Attachment{Entity: r.Target.Entity, Title: r.Target.Title, Kind: r.Target.Kind, RefID: r.Target.RefID,
		FileUUID: f.UUID, FileCreated: f.CreatedAt, AttachedAt: now, AttachedBy: who}
	if a.Kind == entities.KindField {
		a.VersionUUID = v.UUID
	}
	return a
}

// Limits of a request.
const (
	MaxSlots        = 20
	MaxSlotFiles    = 20
	MaxRequestFiles = 100 // receipts a request keeps (its item stays small)
	DefaultMaxFiles = 10  // a request without slots
	DefaultMaxBytes = 1 << 30
	MaxMaxBytes     = 50 << 30
	MaxAccept       = 20
	MinTTL          = time.Hour
	DefaultTTL      = 7 * 24 * time.Hour
	MaxTTL          = 90 * 24 * time.Hour
	MaxTitle        = 200
	MaxMessage      = 2000
	MaxSlotName     = 100
)

// ValidateSlots checks the slots and fills in their defaults (maxBytes:
// the request's cap). Slot names are unique.
func ValidateSlots(slots []Slot, maxBytes int64, errs *apperr.Fields) []Slot {
	if len(slots) > MaxSlots {
		errs.Add("slots", "at most "+strconv.Itoa(MaxSlots)+" slots")
		return nil
	}
	out := make([]Slot, len(slots))
	seen := map[string]bool{}
	for i, s := range slots {
		f := "slots[" + strconv.Itoa(i) + "]"
		s.Name = strings.TrimSpace(s.Name)
		switch {
		case s.Name == "":
			errs.Add(f+".name", "is required (1-100 characters)")
		case seen[strings.ToLower(s.Name)]:
			errs.Add(f+".name", "another slot has this name")
		default:
			errs.AddErr(text.Check(f+".name", s.Name, text.Rules{MaxRunes: MaxSlotName}))
		}
		seen[strings.ToLower(s.Name)] = true
		s.Accept = ValidateAccept(f+".accept", s.Accept, errs)
		switch {
		case s.MaxSize < 0:
			errs.Add(f+".max_size", "must be a positive number of bytes")
		case s.MaxSize == 0 || s.MaxSize > maxBytes:
			s.MaxSize = maxBytes
		}
		switch {
		case s.MaxFiles < 0 || s.MaxFiles > MaxSlotFiles:
			errs.Add(f+".max_files", "must be from 1 to "+strconv.Itoa(MaxSlotFiles))
		case s.MaxFiles == 0:
			s.MaxFiles = 1
		}
		out[i] = s
	}
	return out
}

// ValidateAccept checks accept entries: extensions (".pdf") and media
// types ("application/pdf", "image/*"), normalised to lower case.
func ValidateAccept(field string, accept []string, errs *apperr.Fields) []string {
	if len(accept) > MaxAccept {
		errs.Add(field, "at most "+strconv.Itoa(MaxAccept)+" entries")
		return nil
	}
	out := make([]string, 0, len(accept))
	for i, a := range accept {
		a = strings.ToLower(strings.TrimSpace(a))
		f := field + "[" + strconv.Itoa(i) + "]"
		if strings.HasPrefix(a, ".") {
			if len(a) < 2 || len(a) > 16 || strings.IndexFunc(a[1:], func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) >= 0 {
				errs.Add(f, "an extension is a dot and 1-15 letters or digits, like .pdf")
				continue
			}
		} else if !validMediaRange(a) {
			errs.Add(f, "must be an extension like .pdf or a media type like application/pdf or image/*")
			continue
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func validMediaRange(a string) bool {
	typ, sub, ok := strings.Cut(a, "/")
	if !ok || typ == "" || sub == "" || typ == "*" {
		return false
	}
	if sub == "*" {
		sub = "x"
	}
	_, _, err := mime.ParseMediaType(typ + "/" + sub)
	return err == nil && !strings.ContainsAny(a, ";, ")
}

// Accepts reports whether a slot with accept takes a file named name of
// media type mimeType (what the uploader's browser says: a convenience
// for the person sending, not a defence — malware scanning is).
func Accepts(accept []string, name, mimeType string) bool {
	if len(accept) == 0 {
		return true
	}
	ext := "." + strings.ToLower(files.Extension(name))
	mt := strings.ToLower(mimeType)
	for _, a := range accept {
		switch {
		case strings.HasPrefix(a, "."):
			if a == ext {
				return true
			}
		case strings.HasSuffix(a, "/*"):
			if strings.HasPrefix(mt, strings.TrimSuffix(a, "*")) {
				return true
			}
		case a == mt:
			return true
		}
	}
	return false
}

// Upload is a file someone wants to send to a request.
type Upload struct {
	Slot     string
	Name     string
	Size     int64
	MimeType string // resolved (files.MimeType)
	Uploader Uploader
}

// Admit checks an upload against the request at now: it must take files,
// the slot must exist (or the request have none), the file must be of an
// accepted type and within the slot's and the request's limits.
func (r Request) Admit(u Upload, now time.Time) error {
	if err := r.Taking(now); err != nil {
		return err
	}
	return r.fits(u)
}

// fits checks an upload against the request's slots and limits.
func (r Request) fits(u Upload) error {
	maxSize, maxFiles := r.MaxBytes, r.MaxFiles
	if len(r.Slots) > 0 {
		s, ok := r.slot(u.Slot)
		if !ok {
			names := make([]string, len(r.Slots))
			for i, s := range r.Slots {
				names[i] = strconv.Quote(s.Name)
			}
			return apperr.Invalid("slot", "must be one of the request's slots: "+strings.Join(names, ", "))
		}
		if !Accepts(s.Accept, u.Name, u.MimeType) {
			return apperr.New(apperr.KindUnprocessable, "type_not_accepted",
				fmt.Sprintf("%q takes only %s", s.Name, strings.Join(s.Accept, ", "))).With("field", "file_name").With("accept", s.Accept)
		}
		maxSize, maxFiles = s.MaxSize, s.MaxFiles
		if n := r.counted(s.Name, false); n >= maxFiles {
			return apperr.New(apperr.KindConflict, "slot_full", fmt.Sprintf("%q already has the %d file(s) it takes", s.Name, maxFiles)).With("field", "slot")
		}
	} else if u.Slot != "" {
		return apperr.Invalid("slot", "this request has no slots: leave it out")
	}
	if u.Size > maxSize {
		return apperr.New(apperr.KindTooLarge, "file_too_large",
			fmt.Sprintf("the file has %d bytes; this request takes files of at most %d bytes", u.Size, maxSize)).With("field", "file_size").With("max_size", maxSize)
	}
	if r.counted("", true) >= r.MaxFiles {
		return apperr.New(apperr.KindConflict, "request_full", fmt.Sprintf("this request already has the %d files it takes", r.MaxFiles))
	}
	if held := r.ReceivedBytes(); held+u.Size > r.MaxBytes {
		return apperr.New(apperr.KindTooLarge, "request_full",
			fmt.Sprintf("this request takes %d bytes in all and holds %d; the file has %d", r.MaxBytes, held, u.Size)).With("field", "file_size")
	}
	return nil
}

// Taking fails unless the request takes files at now.
func (r Request) Taking(now time.Time) error {
	switch r.StatusAt(now) {
	case StatusRevoked:
		return apperr.New(apperr.KindGone, "request_revoked", "this file request was withdrawn by its sender")
	case StatusExpired:
		return apperr.New(apperr.KindGone, "request_expired", "this file request expired on "+r.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return nil
}

// ErrChanged is a request write whose request changed since it was read
// (its Rev): read it again and redo the write.
var ErrChanged = errors.New("file request changed")

// Receive records the file f (version v, sent to the request as
// v.Request says) at now: a receipt, attached at once unless the
// deployment scans (then after its verdict, Settle). It fails when the
// request no longer has room for it (concurrent uploads filled it): the
// upload is discarded.
func (r Request) Receive(f files.File, v files.Version, scanning bool, now time.Time) (Request, error) {
	b := v.Request
	u := Upload{Slot: b.Slot, Name: v.Name, Size: v.Size, MimeType: v.MimeType, Uploader: Uploader{Name: b.UploaderName, Email: b.UploaderEmail}}
	// a request revoked or expired while the file was uploading still
	// records it (only its limits are checked again): the uploader was let
	// in, and the parts came before
	if err := r.fits(u); err != nil {
		return Request{}, err
	}
	rc := Receipt{Slot: b.Slot, FileUUID: f.UUID, VersionUUID: v.UUID, Name: v.Name, Size: v.Size, MimeType: v.MimeType,
		Uploader: u.Uploader, ReceivedAt: now.UTC().Truncate(time.Second), Status: ReceiptAttached}
	if scanning {
		rc.Status = ReceiptScanning
	}
	next := r
	next.Received = append(slices.Clone(r.Received), rc)
	next.fulfil(now)
	return next, nil
}

// fulfil sets FulfilledAt when the request just became fulfilled.
func (r *Request) fulfil(now time.Time) {
	if r.FulfilledAt.IsZero() && r.Fulfilled() {
		r.FulfilledAt = now.UTC().Truncate(time.Second)
	}
}

// Settle records receipt i's new status at now.
func (r Request) Settle(i int, st ReceiptStatus, now time.Time) Request {
	next := r
	next.Received = slices.Clone(r.Received)
	next.Received[i].Status = st
	next.fulfil(now)
	return next
}
