// Package relay takes an upload's bytes through the API rather than
// straight to S3: small parts sent one after another, each to the URL the
// previous answer gave (Kommo's upload_url and next_url chain). S3 takes
// multipart parts of at least 5 MiB (but the last), and a Lambda request
// carries at most 6 MB (binary bodies base64-encoded), so a relayed part
// cannot be an S3 part. The relay groups them:
//
//   - a relayed part that does not reach the end of the session's current
//     S3 part is staged as an object of its own, keyed by its offset
//     (relay/<account>/<session>/<offset, 16 digits>);
//   - the relayed part that reaches it is joined with the staged pieces
//     before it into that S3 part (UploadPart), and what follows the
//     boundary is staged at the boundary;
//   - the last relayed part also uploads the last S3 part and completes the
//     session through the upload engine, which records the file.
//
// S3 is the only state: what the session holds is its uploaded S3 parts
// (ListParts) and the staged pieces after them (one ListObjectsV2 from the
// first S3 part not yet uploaded). Each relayed part's URL carries a
// signed ticket with its offset, so a part sent twice (its answer lost)
// is recognised and answered again without writing anything, a part
// whose request crashed halfway resumes where S3 stands, and a part out
// of order is refused with the offset the session expects. At most one S3
// part is held in memory; staged pieces expire by the bucket's lifecycle
// rule on relay/ a day after they were written.
package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/keyring"
	"github.com/anexo/anexo/shared/domain/upload"
)

// MaxPart is the largest relayed part: 4 MiB, base64-encoded by API
// Gateway to 5.3 MiB, inside Lambda's 6 MB request payload with room for
// the request's headers and a multipart envelope.
const MaxPart = 4 << 20

// MaxPartSize is the largest S3 part a relayed session may plan: the relay
// holds one in memory while it uploads it.
const MaxPartSize = 16 << 20

// Prefix is where staged pieces live in the bucket (a lifecycle rule
// expires them).
const Prefix = "relay/"

// Piece is a staged object: its key and size.
type Piece struct {
	Key  string
	Size int64
}

// Blobs is the slice of S3 the relay needs.
type Blobs interface {
	PutObject(ctx context.Context, key, contentType string, body []byte) (string, error)
	// Pieces lists the objects under prefix whose keys sort after
	// startAfter, in key order.
	Pieces(ctx context.Context, prefix, startAfter string) ([]Piece, error)
	GetObject(ctx context.Context, key string) ([]byte, error)
	UploadPart(ctx context.Context, key, uploadID string, part int32, body []byte) error
}

// Uploads is the upload engine the relay drives.
type Uploads interface {
	Open(ctx context.Context, p auth.Principal, in upload.OpenInput) (upload.Opened, error)
	Status(ctx context.Context, p auth.Principal, id string) (upload.State, error)
	Complete(ctx context.Context, p auth.Principal, id string, in upload.CompleteInput) (files.File, error)
	Limits() upload.Limits
}

// Service relays parts.
type Service struct {
	Uploads Uploads
	Blobs   Blobs
	Tickets *keyring.Ring // signs each part's ticket
	Clock   clock.Func
}

// Ticket is what a relayed part's URL carries: the session and where the
// part starts.
type Ticket struct {
	Account string `json:"a"`
	Session string `json:"s"`
	Part    int    `json:"n"` // 1-based, the count of relayed parts so far plus one
	Offset  int64  `json:"o"`
	Expires int64  `json:"e"` // the session's expiry (Unix seconds)
}

const ticketLabel = "anexo-relay"

// Opened is a session opened for relayed parts and its first ticket.
type Opened struct {
	Session     upload.Session
	Ticket      string
	MaxFileSize int64
}

// MaxFileSize is the largest file a relayed session takes: what 10,000
// parts of the engine's minimum part size hold (the relay's parts stay
// small enough to hold in memory), and never above the engine's limit.
func (s *Service) MaxFileSize() int64 {
	l := s.Uploads.Limits()
	return min(l.MaxFileSize, upload.S3MaxParts*l.MinPartSize)
}

// Open opens an upload session whose bytes will come through the relay.
func (s *Service) Open(ctx context.Context, p auth.Principal, in upload.OpenInput) (Opened, error) {
	if in.FileSize > s.MaxFileSize() {
		return Opened{}, apperr.Invalid("file_size", fmt.Sprintf("a file sent in parts through the API is at most %d bytes; upload larger files straight to S3 (POST /v1/sessions)", s.MaxFileSize()))
	}
	in.Relay = true
	o, err := s.Uploads.Open(ctx, p, in)
	if err != nil {
		return Opened{}, err
	}
	if o.Session.Plan.PartSize > MaxPartSize {
		return Opened{}, fmt.Errorf("relay: a part size of %d exceeds %d", o.Session.Plan.PartSize, MaxPartSize)
	}
	t, err := s.seal(ctx, Ticket{Account: p.AccountID, Session: o.Session.ID, Part: 1, Expires: o.Session.ExpiresAt.Unix()})
	return Opened{Session: o.Session, Ticket: t, MaxFileSize: s.MaxFileSize()}, err
}

// Result is the answer to a relayed part: the next part's ticket, or the
// file once the last part is in.
type Result struct {
	Session upload.Session
	Next    string // the next part's ticket (empty with File)
	File    *files.File
}

func (s *Service) seal(ctx context.Context, t Ticket) (string, error) {
	b, _ := json.Marshal(t)
	return s.Tickets.Seal(ctx, ticketLabel, b)
}

func badTicket(code, detail string) error {
	return apperr.New(apperr.KindNotFound, code, detail).With("field", "upload_url")
}

// Open verifies a ticket: authentic, of this account, not expired.
func (s *Service) open(ctx context.Context, p auth.Principal, raw string) (Ticket, error) {
	b, err := s.Tickets.Open(ctx, ticketLabel, raw)
	if errors.Is(err, keyring.ErrBadSeal) {
		return Ticket{}, badTicket("invalid_upload_url", "the upload URL is malformed, was altered or its signing key was retired; use the one the last answer gave")
	}
	if err != nil {
		return Ticket{}, err
	}
	var t Ticket
	if json.Unmarshal(b, &t) != nil || t.Session == "" {
		return Ticket{}, badTicket("invalid_upload_url", "the upload URL is malformed")
	}
	if t.Account != p.AccountID {
		return Ticket{}, badTicket("invalid_upload_url", "the upload URL belongs to another account")
	}
	if s.Clock.Now().Unix() >= t.Expires {
		return Ticket{}, apperr.New(apperr.KindGone, "session_expired", "the upload session expired at "+time.Unix(t.Expires, 0).UTC().Format(time.RFC3339)+"; open a new one")
	}
	return t, nil
}

// piecePrefix is where a session's pieces are staged.
func piecePrefix(sess upload.Session) string {
	return Prefix + sess.AccountID + "/" + sess.ID + "/"
}

// pieceKey is the staged piece of a session at offset: keys sort by
// offset.
func pieceKey(sess upload.Session, offset int64) string {
	return fmt.Sprintf("%s%016d", piecePrefix(sess), offset)
}

func pieceOffset(key string) (int64, bool) {
	i := strings.LastIndexByte(key, '/')
	n, err := strconv.ParseInt(key[i+1:], 10, 64)
	return n, err == nil
}

// holding is what S3 holds of a session: its contiguous uploaded S3 parts
// (done of them, ending at base) and the staged pieces from base on.
type holding struct {
	done   int
	base   int64
	pieces []Piece
	end    int64 // base plus the contiguous pieces' bytes
}

func (s *Service) holding(ctx context.Context, sess upload.Session, parts []upload.Part) (holding, error) {
	have := map[int32]int64{}
	for _, pt := range parts {
		have[pt.Number] = pt.Size
	}
	var h holding
	for n := 1; n <= sess.Plan.PartCount; n++ {
		if size, ok := have[int32(n)]; !ok || size != sess.Plan.PartLen(n) {
			break
		}
		h.done, h.base = n, h.base+sess.Plan.PartLen(n)
	}
	h.end = h.base
	if h.done == sess.Plan.PartCount {
		return h, nil
	}
	// the pieces from base: every key after the one just before base
	after := ""
	if h.base > 0 {
		after = pieceKey(sess, h.base-1)
	}
	listed, err := s.Blobs.Pieces(ctx, piecePrefix(sess), after)
	if err != nil {
		return holding{}, fmt.Errorf("list staged pieces: %w", err)
	}
	for _, pc := range listed {
		off, ok := pieceOffset(pc.Key)
		if !ok || off != h.end {
			break
		}
		h.pieces = append(h.pieces, pc)
		h.end += pc.Size
	}
	return h, nil
}

// Put takes one relayed part at the ticket's offset.
func (s *Service) Put(ctx context.Context, p auth.Principal, ticket string, body []byte) (Result, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return Result{}, err
	}
	t, err := s.open(ctx, p, ticket)
	if err != nil {
		return Result{}, err
	}
	st, err := s.Uploads.Status(ctx, p, t.Session)
	if err != nil {
		return Result{}, err
	}
	sess := st.Session
	size, n := sess.Plan.Size, int64(len(body))
	end := t.Offset + n
	switch {
	case n > MaxPart:
		return Result{}, apperr.New(apperr.KindTooLarge, "part_too_large", fmt.Sprintf("a part is at most %d bytes (max_part_size); this one has %d", MaxPart, n)).
			With("field", "body").With("max_part_size", MaxPart)
	case n == 0 && size > 0:
		return Result{}, apperr.Invalid("body", "is empty: send the file's next part")
	case end > size:
		return Result{}, apperr.Invalid("body", fmt.Sprintf("has %d bytes from offset %d: %d more than the file_size of %d the session was opened with", n, t.Offset, end-size, size))
	}
	switch st.Status {
	case upload.StatusCompleted:
		if end == size && st.File != nil { // the last part again: its answer was lost
			return Result{Session: sess, File: st.File}, nil
		}
		return Result{}, apperr.New(apperr.KindConflict, "session_completed", "the session closed itself when its last part arrived")
	case upload.StatusExpired:
		return Result{}, apperr.New(apperr.KindGone, "session_expired", "the upload session expired; open a new one")
	case upload.StatusAborted:
		return Result{}, apperr.New(apperr.KindConflict, "session_aborted", "the upload session was aborted")
	}
	h, err := s.holding(ctx, sess, st.Parts)
	if err != nil {
		return Result{}, err
	}
	switch {
	case h.end < t.Offset || h.end > end:
		return Result{}, s.outOfOrder(ctx, t, h.end)
	case h.end < end:
		// new bytes (all of them, or the rest of a part whose request
		// stopped halfway)
		if err := s.write(ctx, sess, h, body[h.end-t.Offset:]); err != nil {
			return Result{}, err
		}
	}
	if end < size {
		next, err := s.seal(ctx, Ticket{Account: t.Account, Session: t.Session, Part: t.Part + 1, Offset: end, Expires: t.Expires})
		return Result{Session: sess, Next: next}, err
	}
	f, err := s.Uploads.Complete(ctx, p, sess.ID, upload.CompleteInput{})
	if err != nil {
		return Result{}, err
	}
	return Result{Session: sess, File: &f}, nil
}

// outOfOrder refuses a part that does not start where the session stands,
// with the URL (ticket) of the part it expects.
func (s *Service) outOfOrder(ctx context.Context, t Ticket, at int64) error {
	next, err := s.seal(ctx, Ticket{Account: t.Account, Session: t.Session, Part: t.Part, Offset: at, Expires: t.Expires})
	if err != nil {
		return err
	}
	return apperr.New(apperr.KindConflict, "part_out_of_order",
		fmt.Sprintf("this part starts at byte %d, and the session holds %d bytes: send the part that starts at byte %d, to the next_url of this answer", t.Offset, at, at)).
		With("expected_offset", at).With("next_ticket", next)
}

// write adds data at h.end: staged while it stays inside the current S3
// part, joined with the staged pieces into S3 parts as it reaches their
// ends.
func (s *Service) write(ctx context.Context, sess upload.Session, h holding, data []byte) error {
	at := h.end
	pieces := h.pieces
	for part := h.done + 1; len(data) > 0 || at == sess.Plan.Size && part <= sess.Plan.PartCount; part++ {
		partEnd := h.base + sess.Plan.PartLen(part)
		if at+int64(len(data)) < partEnd {
			_, err := s.Blobs.PutObject(ctx, pieceKey(sess, at), "application/octet-stream", data)
			if err != nil {
				return fmt.Errorf("stage a piece: %w", err)
			}
			return nil
		}
		buf := bytes.NewBuffer(make([]byte, 0, sess.Plan.PartLen(part)))
		for _, pc := range pieces {
			b, err := s.Blobs.GetObject(ctx, pc.Key)
			if err != nil {
				return fmt.Errorf("read a staged piece: %w", err)
			}
			buf.Write(b)
		}
		take := partEnd - at
		buf.Write(data[:take])
		if int64(buf.Len()) != sess.Plan.PartLen(part) {
			return fmt.Errorf("relay: part %d assembled %d bytes, want %d", part, buf.Len(), sess.Plan.PartLen(part))
		}
		if err := s.Blobs.UploadPart(ctx, sess.Key, sess.UploadID, int32(part), buf.Bytes()); err != nil {
			return fmt.Errorf("upload part %d: %w", part, err)
		}
		data, at, pieces, h.base = data[take:], partEnd, nil, partEnd
	}
	return nil
}
