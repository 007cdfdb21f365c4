package upload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/clock"
	"github.com/anexo/anexo/shared/base/ids"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
)

// MaxSessionTTL bounds a session's life: the bucket's lifecycle rule
// aborts multipart uploads still incomplete a day after they began (the
// stack derives the rule from this bound), so a session may not outlive it.
const MaxSessionTTL = 24 * time.Hour

// Limits configures the service.
type Limits struct {
	MinPartSize int64         // default 8 MiB; never below S3's 5 MiB
	MaxFileSize int64         // default 5 TiB
	SessionTTL  time.Duration // default and at most MaxSessionTTL
	PartURLTTL  time.Duration // default 15 min
	FirstBatch  int           // part URLs returned by Open; default 100
	MaxBatch    int           // part URLs per Parts call; default 1000
	// SessionCache is how long a process reuses an open session it read
	// to presign part URLs without reading it again; default 1 min,
	// negative: never (every Parts call reads the session).
	SessionCache time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MinPartSize < S3MinPart {
		l.MinPartSize = DefaultMinPartSize
	}
	if l.MaxFileSize <= 0 || l.MaxFileSize > S3MaxObject {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.SessionTTL <= 0 || l.SessionTTL > MaxSessionTTL {
		l.SessionTTL = MaxSessionTTL
	}
	if l.PartURLTTL <= 0 {
		l.PartURLTTL = 15 * time.Minute
	}
	if l.FirstBatch <= 0 {
		l.FirstBatch = 100
	}
	if l.MaxBatch <= 0 {
		l.MaxBatch = 1000
	}
	if l.SessionCache == 0 {
		l.SessionCache = time.Minute
	}
	return l
}

// Service implements upload sessions.
type Service struct {
	// Entities resolves attach targets; nil refuses them.
	Entities entities.Resolver
	// Scanning says the deployment scans new versions for malware: they
	// start pending (else off).
	Scanning bool

	store  Store
	blobs  Blobs
	limits Limits
	clock  clock.Func
	log    *slog.Logger
	cache  *sessionCache
}

// NewService wires a service; now may be nil (time.Now).
func NewService(store Store, blobs Blobs, limits Limits, now clock.Func, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	l := limits.withDefaults()
	return &Service{store: store, blobs: blobs, limits: l, clock: now, log: log,
		cache: newSessionCache(l.SessionCache, DefaultSessionCacheEntries)}
}

// Limits reports the effective limits.
func (s *Service) Limits() Limits { return s.limits }

func quotaError(u files.Usage, size int64) error {
	return apperr.New(apperr.KindQuota, "quota_exceeded",
		fmt.Sprintf("this upload of %d bytes would exceed the account quota (%d of %d bytes used)", size, u.UsedBytes, u.QuotaBytes)).
		With("used_bytes", u.UsedBytes).With("quota_bytes", u.QuotaBytes)
}

func mustV7() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// Session reads a session of the principal's account (one GetItem).
func (s *Service) Session(ctx context.Context, p auth.Principal, id string) (Session, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return Session{}, err
	}
	return s.session(ctx, p, id)
}

// session loads a session of the principal's account; other accounts' ids
// (and for a file request's uploader, other sessions than the request's)
// are simply not found.
func (s *Service) session(ctx context.Context, p auth.Principal, id string) (Session, error) {
	if err := ids.Check("id", id); err != nil {
		return Session{}, err
	}
	sess, err := s.store.GetSession(ctx, p.AccountID, id)
	if errors.Is(err, apperr.ErrNotFound) || err == nil && !reaches(p, sess) {
		return Session{}, errNoSession(id)
	}
	return sess, err
}

func errNoSession(id string) error {
	return apperr.New(apperr.KindNotFound, "session_not_found", "no upload session "+id+" in this account")
}

// reaches reports whether p may use sess (of its account): a file
// request's uploader reaches that request's sessions only.
func reaches(p auth.Principal, sess Session) bool {
	return p.FileRequest == "" || sess.Request != nil && sess.Request.ID == p.FileRequest
}

// checkOpen refuses a session that can no longer take parts or complete.
func checkOpen(sess Session, now time.Time) error {
	switch sess.StatusAt(now) {
	case StatusExpired:
		return apperr.New(apperr.KindGone, "session_expired", "the session expired at "+sess.ExpiresAt.Format(time.RFC3339)+"; open a new one")
	case StatusAborted:
		return apperr.New(apperr.KindConflict, "session_aborted", "the session was aborted")
	case StatusCompleted:
		return apperr.New(apperr.KindConflict, "session_completed", "the session is already completed")
	}
	return nil
}
