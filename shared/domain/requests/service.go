package requests

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/base/ids"
	"github.com/anexo/anexo/shared/base/text"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/links"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// Write is a change to a stored request: its new state (receipts,
// fulfilment, revocation, link, passcode failures), conditional on the
// stored one being at Prev (else ErrChanged), with the attachments and
// the events the change makes, in one transaction.
type Write struct {
	Request Request
	Prev    int64
	// OldLink is the hash of the link this write replaces ("": none).
	OldLink string
	Attach  []entities.Attachment
	Events  *outbox.Record
}

// Store keeps requests, and each link's hash pointing to its request.
type Store interface {
	// CreateRequest stores a new request and its link, with rec.
	CreateRequest(ctx context.Context, r Request, rec *outbox.Record) error
	GetRequest(ctx context.Context, accountID, id string) (Request, error)
	// RequestByLink reads the request a link's hash opens.
	RequestByLink(ctx context.Context, hash string) (Request, error)
	// ListRequests lists an account's requests newest first, from after
	// an id ("": the newest), up to limit; the id to read on from ("":
	// no more).
	ListRequests(ctx context.Context, accountID, after string, limit int) ([]Request, string, error)
	UpdateRequest(ctx context.Context, w Write) error
	GetFile(ctx context.Context, accountID, fileUUID string) (files.File, error)
	GetVersion(ctx context.Context, accountID, fileUUID, versionUUID string) (files.Version, error)
}

// Service manages file requests (requests:admin) and opens them to the
// people their links are sent to.
type Service struct {
	Store    Store
	Entities entities.Resolver
	Clock    clock.Func
	// PageURL is the public page's address: a link is PageURL#secret (the
	// secret in the fragment never reaches a server's logs). Empty: the
	// API answers the secret alone.
	PageURL string
	// Scanning: received files wait for their malware verdict before
	// they are attached.
	Scanning bool

	passcodes passcodeMemory
}

// New describes a request to make.
type New struct {
	EntityType, EntityID  string
	Kind, NoteID, FieldID string
	Title, Message        string
	Slots                 []Slot
	MaxFiles              int
	MaxBytes              int64
	TTL                   time.Duration // 0: DefaultTTL
	Passcode              string
}

// Link is a request's link: its secret, and the page's URL with it.
type Link struct {
	Secret string
	URL    string // "" when the deployment names no page
}

func (s *Service) link(secret string) Link {
	l := Link{Secret: secret}
	if s.PageURL != "" {
		l.URL = s.PageURL + "#" + secret
	}
	return l
}

func (s *Service) validate(in New) (Request, entities.Ref, error) {
	var errs apperr.Fields
	var ref entities.Ref
	typ, err := entities.ParseType("entity_type", in.EntityType)
	if err == nil {
		ref, err = entities.ParseRef(typ, "entity_id", in.EntityID)
	}
	errs.AddErr(err)
	spec := entities.TargetSpec("attach", in.Kind, in.NoteID, in.FieldID, &errs)
	title := strings.TrimSpace(in.Title)
	if title == "" {
		errs.Add("title", "is required (1-200 characters): what the person is asked for")
	} else {
		errs.AddErr(text.Check("title", title, text.Rules{MaxRunes: MaxTitle}))
	}
	errs.AddErr(text.Check("message", in.Message, text.Rules{MaxRunes: MaxMessage, Multiline: true}))
	r := Request{Title: title, Message: in.Message, MaxFiles: in.MaxFiles, MaxBytes: in.MaxBytes}
	switch {
	case r.MaxBytes < 0 || r.MaxBytes > MaxMaxBytes:
		errs.Add("max_bytes", fmt.Sprintf("must be from 1 to %d bytes", int64(MaxMaxBytes)))
	case r.MaxBytes == 0:
		r.MaxBytes = DefaultMaxBytes
	}
	r.Slots = ValidateSlots(in.Slots, max(r.MaxBytes, 1), &errs)
	slotFiles := 0
	for _, sl := range r.Slots {
		slotFiles += sl.MaxFiles
	}
	switch {
	case r.MaxFiles < 0 || r.MaxFiles > MaxRequestFiles:
		errs.Add("max_files", "must be from 1 to "+strconv.Itoa(MaxRequestFiles))
	case r.MaxFiles == 0 && len(r.Slots) > 0:
		r.MaxFiles = min(slotFiles, MaxRequestFiles)
	case r.MaxFiles == 0:
		r.MaxFiles = DefaultMaxFiles
	}
	ttl := in.TTL
	switch {
	case ttl == 0:
		ttl = DefaultTTL
	case ttl < MinTTL || ttl > MaxTTL:
		errs.Add("expires_in", fmt.Sprintf("must be from %d to %d seconds (1 hour to 90 days)", int(MinTTL/time.Second), int(MaxTTL/time.Second)))
	}
	if in.Passcode != "" {
		if n := len([]rune(in.Passcode)); n < MinPasscode || n > MaxPasscode {
			errs.Add("passcode", fmt.Sprintf("must be %d to %d characters", MinPasscode, MaxPasscode))
		} else {
			errs.AddErr(text.Check("passcode", in.Passcode, text.Rules{}))
		}
	}
	r.Target = Target{Kind: spec.Kind, RefID: spec.RefID()} // media by default
	now := s.Clock.Now().UTC().Truncate(time.Second)
	r.CreatedAt, r.ExpiresAt = now, now.Add(ttl)
	return r, ref, errs.Err()
}

// Create makes a request and its link (whose secret is answered once:
// only its hash is kept).
func (s *Service) Create(ctx context.Context, p auth.Principal, in New) (Request, Link, error) {
	if err := p.Require(auth.ScopeRequests); err != nil {
		return Request{}, Link{}, err
	}
	r, ref, err := s.validate(in)
	if err != nil {
		return Request{}, Link{}, err
	}
	e, err := s.Entities.Resolve(ctx, p, ref, true)
	if err != nil {
		if ae, ok := apperr.As(err); ok && ae.Kind == apperr.KindNotFound {
			return Request{}, Link{}, ae.With("field", "entity_id")
		}
		return Request{}, Link{}, err
	}
	secret := newLink()
	r.AccountID, r.ID, r.CreatedBy, r.TokenID = p.AccountID, newID(), p.Name, p.TokenID
	r.Target.Entity, r.Target.Title = e.Ref(), e.Title
	r.LinkHash = HashLink(secret)
	if in.Passcode != "" {
		r.Passcode = HashPasscode(in.Passcode)
	}
	rec := outbox.NewRecord(r.AccountID, s.Clock.Now()).Add(outbox.FileRequestCreated, r.EventData(nil, r.CreatedAt))
	if err := s.Store.CreateRequest(ctx, r, rec); err != nil {
		return Request{}, Link{}, err
	}
	return r, s.link(secret), nil
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// Get reads a request of the principal's account.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Request, error) {
	if err := p.Require(auth.ScopeRequests); err != nil {
		return Request{}, err
	}
	r, err := s.get(ctx, p.AccountID, id)
	if err != nil {
		return Request{}, err
	}
	return s.Heal(ctx, r)
}

// StaleScan is how long a receipt waits for its verdict before a read of
// its request looks at the version itself.
const StaleScan = time.Minute

// Heal settles the receipts of r still waiting for a verdict that came a
// while ago (the verdict recorded, its settling lost: the function ended
// between the two and its retries ran out) and answers r as it is then.
// Reads of a request call it: the account's, and the page's, which asks
// again while a file is being scanned. A version read per waiting receipt.
func (s *Service) Heal(ctx context.Context, r Request) (Request, error) {
	healed := false
	for _, rc := range r.Received {
		if rc.Status != ReceiptScanning || s.Clock.Now().Sub(rc.ReceivedAt) < StaleScan {
			continue
		}
		v, err := s.Store.GetVersion(ctx, r.AccountID, rc.FileUUID, rc.VersionUUID)
		if errors.Is(err, apperr.ErrNotFound) {
			continue
		}
		if err != nil {
			return Request{}, err
		}
		if v.Scan.Status != files.ScanPending && v.Request != nil {
			if err := s.Settle(ctx, v); err != nil {
				return Request{}, err
			}
			healed = true
		}
	}
	if !healed {
		return r, nil
	}
	return s.get(ctx, r.AccountID, r.ID)
}

func (s *Service) get(ctx context.Context, account, id string) (Request, error) {
	if err := ids.Check("id", id); err != nil {
		return Request{}, err
	}
	r, err := s.Store.GetRequest(ctx, account, id)
	if errors.Is(err, apperr.ErrNotFound) {
		return Request{}, apperr.New(apperr.KindNotFound, "request_not_found", "no file request "+id+" in this account")
	}
	return r, err
}

// MaxList bounds a page of requests.
const MaxList = 100

// List lists the account's requests newest first, from after ("": the
// newest), keeping those in status when it is set: a page may be short
// (even empty, with an id to go on from).
func (s *Service) List(ctx context.Context, p auth.Principal, after string, status Status, limit int) ([]Request, string, error) {
	if err := p.Require(auth.ScopeRequests); err != nil {
		return nil, "", err
	}
	if after != "" {
		if err := ids.Check("after", after); err != nil {
			return nil, "", err
		}
	}
	rs, next, err := s.Store.ListRequests(ctx, p.AccountID, after, limit)
	if err != nil || status == "" {
		return rs, next, err
	}
	now := s.Clock.Now()
	out := rs[:0]
	for _, r := range rs {
		if r.StatusAt(now) == status {
			out = append(out, r)
		}
	}
	return out, next, nil
}

// maxTries bounds the optimistic retries against concurrent writers.
const maxTries = 5

// change applies edit to the stored request and writes it, again while
// another writer got there first. edit returns the write, or nil for
// nothing to do.
func (s *Service) change(ctx context.Context, account, id string, edit func(r Request) (*Write, error)) (Request, error) {
	for try := 0; ; try++ {
		r, err := s.get(ctx, account, id)
		if err != nil {
			return Request{}, err
		}
		w, err := edit(r)
		if err != nil || w == nil {
			return r, err
		}
		w.Prev = r.Rev
		w.Request.Rev = r.Rev + 1
		err = s.Store.UpdateRequest(ctx, *w)
		if !errors.Is(err, ErrChanged) || try == maxTries-1 {
			return w.Request, err
		}
	}
}

// Revoke withdraws a request: its link takes nothing more and shows
// nothing. Revoking a revoked request changes nothing.
func (s *Service) Revoke(ctx context.Context, p auth.Principal, id string) (Request, error) {
	if err := p.Require(auth.ScopeRequests); err != nil {
		return Request{}, err
	}
	return s.change(ctx, p.AccountID, id, func(r Request) (*Write, error) {
		if !r.RevokedAt.IsZero() {
			return nil, nil
		}
		now := s.Clock.Now()
		r.RevokedAt = now.UTC().Truncate(time.Second)
		return &Write{Request: r, Events: outbox.NewRecord(r.AccountID, now).Add(outbox.FileRequestRevoked, r.EventData(nil, now))}, nil
	})
}

// Relink gives a request a new link: the old one stops working at once
// (for a link sent to the wrong person, or lost).
func (s *Service) Relink(ctx context.Context, p auth.Principal, id string) (Request, Link, error) {
	if err := p.Require(auth.ScopeRequests); err != nil {
		return Request{}, Link{}, err
	}
	secret := newLink()
	r, err := s.change(ctx, p.AccountID, id, func(r Request) (*Write, error) {
		if err := r.Taking(s.Clock.Now()); err != nil {
			return nil, err
		}
		old := r.LinkHash
		r.LinkHash = HashLink(secret)
		return &Write{Request: r, OldLink: old}, nil
	})
	if err != nil {
		return Request{}, Link{}, err
	}
	return r, s.link(secret), nil
}

var errUnknownLink = apperr.New(apperr.KindNotFound, "request_not_found", "no file request has this link (it may have been replaced by a new one)")

// Visit opens the request a link's secret names, for the person it was
// sent to: a revoked or expired request shows nothing; one with a
// passcode needs it (5 wrong passcodes lock it for 15 minutes).
func (s *Service) Visit(ctx context.Context, secret, passcode string) (Request, error) {
	if !WellFormedLink(secret) {
		return Request{}, errUnknownLink
	}
	r, err := s.Store.RequestByLink(ctx, HashLink(secret))
	if errors.Is(err, apperr.ErrNotFound) {
		return Request{}, errUnknownLink
	}
	if err != nil {
		return Request{}, err
	}
	now := s.Clock.Now()
	if err := r.Taking(now); err != nil {
		return Request{}, err
	}
	if r.Passcode == "" {
		return r, nil
	}
	if until := r.Lockout(now); !until.IsZero() {
		return Request{}, apperr.New(apperr.KindTooMany, "passcode_locked", "too many wrong passcodes; try again later").
			With("retry_after_seconds", int(until.Sub(now)/time.Second)+1)
	}
	if passcode == "" {
		return Request{}, apperr.New(apperr.KindUnauthorized, "passcode_required", "this request asks for a passcode (the Anexo-Passcode header)").With("field", "passcode")
	}
	if s.passcodes.knows(r, passcode, now) || CheckPasscode(r.Passcode, passcode) {
		s.passcodes.remember(r, passcode, now)
		return r, nil
	}
	r, err = s.change(ctx, r.AccountID, r.ID, func(cur Request) (*Write, error) {
		return &Write{Request: cur.failed(now)}, nil
	})
	if err != nil {
		return Request{}, err
	}
	return Request{}, apperr.New(apperr.KindUnauthorized, "passcode_wrong", "the passcode is not this request's").With("field", "passcode").
		With("attempts_left", max(MaxFailures-r.Failures, 0))
}

// Admit checks an upload against a visited request, counts it against
// the link's opens, and returns the principal and the binding its session
// is opened with: the uploader reaches that request's sessions only, and
// names the file's author.
func (s *Service) Admit(ctx context.Context, r Request, u Upload) (auth.Principal, files.Requested, error) {
	var errs apperr.Fields
	u.Uploader.Name = strings.TrimSpace(u.Uploader.Name)
	if u.Uploader.Name != "" {
		errs.AddErr(text.Check("uploader.name", u.Uploader.Name, text.Rules{MaxRunes: 100}))
	}
	if e := strings.TrimSpace(u.Uploader.Email); e != "" {
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || len(e) > 254 {
			errs.Add("uploader.email", "must be an e-mail address like maria@example.com")
		}
		u.Uploader.Email = e
	}
	if err := errs.Err(); err != nil {
		return auth.Principal{}, files.Requested{}, err
	}
	if err := r.Admit(u, s.Clock.Now()); err != nil {
		return auth.Principal{}, files.Requested{}, err
	}
	_, err := s.change(ctx, r.AccountID, r.ID, func(cur Request) (*Write, error) {
		next, err := cur.opened(s.Clock.Now())
		if err != nil {
			return nil, err
		}
		return &Write{Request: next}, nil
	})
	if err != nil {
		return auth.Principal{}, files.Requested{}, err
	}
	return r.Principal(u.Uploader), files.Requested{ID: r.ID, Slot: u.Slot, UploaderName: u.Uploader.Name, UploaderEmail: u.Uploader.Email}, nil
}

// Principal is who uploads through r: files:write bound to r, named after
// the uploader.
func (r Request) Principal(u Uploader) auth.Principal {
	name := "file request"
	if u.Name != "" {
		name = u.Name + " (file request)"
	}
	return auth.Principal{AccountID: r.AccountID, Name: name, Scopes: []auth.Scope{auth.ScopeWrite}, FileRequest: r.ID}
}

// Settle attaches a received version once its malware verdict came (or
// refuses it when infected), recording the receipt's new status with the
// attachment and its events: idempotent, safe to call again (each
// verdict's delivery does).
func (s *Service) Settle(ctx context.Context, v files.Version) error {
	if v.Request == nil || v.Scan.Status == files.ScanPending {
		return nil
	}
	_, err := s.change(ctx, v.AccountID, v.Request.ID, func(r Request) (*Write, error) {
		i, ok := r.Receipt(v.UUID)
		if !ok || r.Received[i].Status != ReceiptScanning {
			return nil, nil
		}
		f, err := s.Store.GetFile(ctx, v.AccountID, v.FileUUID)
		st := ReceiptAttached
		switch {
		case v.Scan.Status == files.ScanInfected:
			st = ReceiptRefused
		case errors.Is(err, apperr.ErrNotFound):
			st = ReceiptDeleted
		case err != nil:
			return nil, err
		}
		now := s.Clock.Now()
		next := r.Settle(i, st, now)
		w := &Write{Request: next, Events: outbox.NewRecord(r.AccountID, now)}
		if next.Received[i].Status == ReceiptAttached {
			a := r.Attachment(f, v, v.CreatedBy, now)
			w.Attach = []entities.Attachment{a}
			w.Events.Add(outbox.FileAttached, a.EventData(&f))
		}
		if r.FulfilledAt.IsZero() && !next.FulfilledAt.IsZero() {
			w.Events.Add(outbox.FileRequestFulfilled, next.EventData(nil, now))
		}
		return w, nil
	})
	return err
}

// EventData is the request in an event's payload (with rc: a receipt's
// event), as it stands at now.
func (r Request) EventData(rc *Receipt, now time.Time) outbox.FileRequestData {
	t := r.Target.Entity
	d := outbox.FileRequestData{FileRequest: outbox.FileRequest{ID: r.ID, Title: r.Title, Status: string(r.StatusAt(now)),
		Entity: outbox.EntityOf(string(t.Type), t.UUID, t.Code, r.Target.Title), ExpiresAt: r.ExpiresAt,
		Slots: []outbox.FileRequestSlot{}, Received: len(r.Received), Links: links.FileRequest(r.ID)}}
	for _, sl := range r.Slots {
		d.FileRequest.Slots = append(d.FileRequest.Slots, outbox.FileRequestSlot{Name: sl.Name, Required: sl.Required, Received: r.counted(sl.Name, false)})
	}
	if rc != nil {
		d.Receipt = &outbox.FileRequestReceipt{Slot: rc.Slot, FileUUID: rc.FileUUID, VersionUUID: rc.VersionUUID, Name: rc.Name,
			Size: rc.Size, MimeType: rc.MimeType, UploaderName: rc.Uploader.Name, UploaderEmail: rc.Uploader.Email,
			Status: string(rc.Status), ReceivedAt: rc.ReceivedAt}
	}
	return d
}
