package upload

// Part URLs: each signed for its exact length and, when given, its checksum.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
)

// PartURL is one presigned part upload.
type PartURL struct {
	Number    int
	Size      int64
	Request   SignedRequest
	ExpiresAt time.Time
}

// PartsInput asks for presigned URLs for some parts.
type PartsInput struct {
	PartNumbers []int
	Checksums   map[string]string
}

// Parts presigns part URLs. AWS requests: none while this process has the
// open session cached (see sessionCache), else one DynamoDB read; signing
// is local.
func (s *Service) Parts(ctx context.Context, p auth.Principal, id string, in PartsInput) (Session, []PartURL, error) {
	if err := p.Require(auth.ScopeWrite); err != nil {
		return Session{}, nil, err
	}
	if len(in.PartNumbers) == 0 {
		return Session{}, nil, apperr.Invalid("part_numbers", "list at least one part number")
	}
	if len(in.PartNumbers) > s.limits.MaxBatch {
		return Session{}, nil, apperr.Invalid("part_numbers", fmt.Sprintf("at most %d part numbers per request", s.limits.MaxBatch))
	}
	now := s.clock.Now()
	sess, cached := s.cache.get(p.AccountID, id, now)
	if cached && !reaches(p, sess) {
		return Session{}, nil, errNoSession(id)
	}
	if !cached {
		var err error
		if sess, err = s.session(ctx, p, id); err != nil {
			return Session{}, nil, err
		}
		s.cache.put(sess, now)
	}
	if err := checkOpen(sess, now); err != nil {
		return Session{}, nil, err
	}
	switch {
	case sess.empty():
		return Session{}, nil, apperr.New(apperr.KindConflict, "no_parts", "an empty file has no parts to upload; complete the session")
	case sess.form():
		return Session{}, nil, apperr.New(apperr.KindConflict, "form_upload", "this session is a form upload (one POST); it has no parts to sign")
	}
	var errs apperr.Fields
	seen := map[int]bool{}
	for i, n := range in.PartNumbers {
		switch {
		case n < 1 || n > sess.Plan.PartCount:
			errs.Add("part_numbers["+strconv.Itoa(i)+"]", fmt.Sprintf("must be between 1 and %d (the session's part_count)", sess.Plan.PartCount))
		case seen[n]:
			errs.Add("part_numbers["+strconv.Itoa(i)+"]", "duplicate part number "+strconv.Itoa(n))
		}
		seen[n] = true
	}
	for k := range in.Checksums {
		n, err := strconv.Atoi(k)
		if err != nil || !seen[n] {
			errs.Add("checksums."+k, "must be keyed by one of the requested part numbers")
		}
	}
	if sess.Checksum != nil {
		for _, n := range in.PartNumbers {
			v, ok := in.Checksums[strconv.Itoa(n)]
			if !ok {
				errs.Add(partField(n), "this session verifies a "+sess.Checksum.Algorithm+" checksum: send each part's "+sess.Checksum.Algorithm)
			} else if err := ValidateChecksumValue(partField(n), sess.Checksum.Algorithm, v); err != nil {
				e, _ := apperr.As(err)
				errs = append(errs, e.Fields...)
			}
		}
	} else if len(in.Checksums) > 0 {
		errs.Add("checksums", "this session was opened without a checksum; part checksums need one")
	}
	if err := errs.Err(); err != nil {
		return Session{}, nil, err
	}
	urls, err := s.sign(ctx, sess, in.PartNumbers, in.Checksums, now)
	return sess, urls, err
}

func (s *Service) sign(ctx context.Context, sess Session, numbers []int, sums map[string]string, now time.Time) ([]PartURL, error) {
	ttl := min(s.limits.PartURLTTL, sess.ExpiresAt.Sub(now))
	alg := ""
	if sess.Checksum != nil {
		alg = sess.Checksum.Algorithm
	}
	out := make([]PartURL, 0, len(numbers))
	for _, n := range numbers {
		req, err := s.blobs.PresignPart(ctx, sess.Key, sess.UploadID, int32(n), sess.Plan.PartLen(n), alg, sums[strconv.Itoa(n)], ttl)
		if err != nil {
			return nil, fmt.Errorf("presign part %d: %w", n, err)
		}
		out = append(out, PartURL{Number: n, Size: sess.Plan.PartLen(n), Request: req, ExpiresAt: now.Add(ttl).Truncate(time.Second)})
	}
	return out, nil
}
