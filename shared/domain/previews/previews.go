// Package previews renders images of file versions — thumbnails of
// pictures, the first page of a PDF — after their upload, apart from
// the request that uploaded them: a version gets its previews once, in
// every size at once, recorded on the version (and on its file while it is
// the main version) with a file.preview_ready event in the same
// transaction. Only bytes that would be served under the strictest
// scan policy are rendered: never a version pending its malware verdict,
// infected, or whose scan failed.
package previews

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
)

// Image is one preview a Renderer made.
type Image struct {
	Size, Width, Height int
	Type                string // its media type
	Bytes               []byte
}

// ErrUnsupported is a Renderer's answer for bytes it has no previews for
// (a format it does not read); ErrTooLarge for an image over its limits
// (a decompression bomb, or only too many pixels).
var (
	ErrUnsupported = errors.New("previews: no previews for this format")
	ErrTooLarge    = errors.New("previews: over the renderer's limits")
)

// Renderer renders bytes of a media type into one image per size (the
// long edge, never enlarged), within its own pixel, time and memory
// limits.
type Renderer interface {
	Render(ctx context.Context, mimeType string, src []byte, sizes []int) ([]Image, error)
	// Renders reports whether the renderer has previews for a media type
	// (and the file name's extension): the others are never read.
	Renders(mimeType, ext string) bool
}

// Store reads versions and files and records previews.
type Store interface {
	GetFile(ctx context.Context, accountID, fileUUID string) (files.File, error)
	GetVersion(ctx context.Context, accountID, fileUUID, versionUUID string) (files.Version, error)
	// RecordPreviews writes v.Previews on version v, and on its file when
	// main, with rec, if v has none yet and, when main, is still the main
	// version: else apperr.ErrConflict.
	RecordPreviews(ctx context.Context, v files.Version, main bool, rec *outbox.Record) error
}

// Sources reads a version's bytes: at most max of them, else ErrTooLarge.
type Sources interface {
	ReadVersion(ctx context.Context, key, versionID string, max int64) ([]byte, error)
}

// Images stores previews' bytes.
type Images interface {
	PutObject(ctx context.Context, key, contentType string, body []byte) (string, error)
}

// Service renders and records previews.
type Service struct {
	Store    Store
	Sources  Sources
	Images   Images
	Renderer Renderer
	Clock    clock.Func
}

// MaxSource is the largest version rendered: beyond it, a version gets no
// previews (a picture or a PDF this large is rare, and reading it would
// cost the function's memory).
const MaxSource = 100 << 20

// Outcome says what became of a request for a version's previews.
type Outcome string

// The outcomes.
const (
	Rendered    Outcome = "rendered"
	Present     Outcome = "present"     // it had them already (a redelivery)
	Waiting     Outcome = "waiting"     // its malware verdict has not come: its file.scanned asks again
	Refused     Outcome = "refused"     // infected, or its scan failed: never rendered
	Unsupported Outcome = "unsupported" // a format without previews, or over the limits
	Gone        Outcome = "gone"        // no such version (purged)
)

// maxTries bounds the retries against a version becoming main meanwhile.
const maxTries = 3

// Render renders the previews of one version, once: idempotent, safe to
// retry after a crash between any two steps (the images' keys are fixed,
// so a retry overwrites what a crashed run stored).
func (s *Service) Render(ctx context.Context, accountID, fileUUID, versionUUID string) (Outcome, error) {
	v, err := s.Store.GetVersion(ctx, accountID, fileUUID, versionUUID)
	if errors.Is(err, apperr.ErrNotFound) {
		return Gone, nil
	}
	if err != nil {
		return "", err
	}
	switch {
	case len(v.Previews) > 0:
		return Present, nil
	case v.Scan.Status == files.ScanPending:
		return Waiting, nil
	case v.Scan.Servable(fileUUID, files.PendingBlock) != nil:
		return Refused, nil
	case !s.Renderer.Renders(v.MimeType, files.Extension(v.Name)) || v.Size > MaxSource:
		return Unsupported, nil
	}
	src, err := s.Sources.ReadVersion(ctx, v.Key, v.S3Version, MaxSource)
	if errors.Is(err, apperr.ErrNotFound) {
		return Gone, nil // purged meanwhile
	}
	if err != nil {
		return "", err
	}
	imgs, err := s.Renderer.Render(ctx, v.MimeType, src, files.PreviewSizes)
	if errors.Is(err, ErrUnsupported) || errors.Is(err, ErrTooLarge) {
		return Unsupported, nil
	}
	if err != nil {
		return "", fmt.Errorf("render %s: %w", v.Key, err)
	}
	for _, img := range imgs {
		key := files.PreviewKey(accountID, fileUUID, versionUUID, img.Size)
		if _, err := s.Images.PutObject(ctx, key, img.Type, img.Bytes); err != nil {
			return "", err
		}
		v.Previews = append(v.Previews, files.Preview{Size: img.Size, Width: img.Width, Height: img.Height, Type: img.Type, Key: key})
	}
	return s.record(ctx, v)
}

// record writes v's previews, retried when its file's main version
// changes meanwhile.
func (s *Service) record(ctx context.Context, v files.Version) (Outcome, error) {
	for try := 0; ; try++ {
		f, err := s.Store.GetFile(ctx, v.AccountID, v.FileUUID)
		if errors.Is(err, apperr.ErrNotFound) {
			return Gone, nil
		}
		if err != nil {
			return "", err
		}
		main := f.VersionUUID == v.UUID
		if main {
			f.Previews = v.Previews
		}
		err = s.Store.RecordPreviews(ctx, v, main, outbox.OfFile(outbox.FilePreviewReady, f, &v, "", s.Clock.Now()))
		if !errors.Is(err, apperr.ErrConflict) {
			return Rendered, err
		}
		cur, gerr := s.Store.GetVersion(ctx, v.AccountID, v.FileUUID, v.UUID)
		switch {
		case errors.Is(gerr, apperr.ErrNotFound):
			return Gone, nil
		case gerr != nil:
			return "", gerr
		case len(cur.Previews) > 0:
			return Present, nil // a concurrent run recorded them
		case try == maxTries-1:
			return "", err
		}
	}
}

// Timeout bounds one version's rendering (the function's own timeout is
// above it, with room for the reads and writes).
const Timeout = 20 * time.Second
