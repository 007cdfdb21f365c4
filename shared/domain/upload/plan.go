package upload

import (
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/crc"
)

// S3 multipart limits.
const (
	MiB                = int64(1) << 20
	GiB                = int64(1) << 30
	S3MinPart          = 5 * MiB
	S3MaxPart          = 5 * GiB
	S3MaxParts         = 10000
	S3MaxObject        = S3MaxParts * S3MaxPart
	DefaultMinPartSize = 8 * MiB
	DefaultMaxFileSize = 5 * 1024 * GiB
)

// Plan is the server-chosen split of a file into equal parts (the last one
// may be shorter). An empty file has no parts: nothing can be uploaded to
// it (S3 cannot sign a Content-Length of 0, so a part URL of 0 bytes
// would take up to 5 GiB); completion stores the empty object itself.
type Plan struct {
	Size      int64
	PartSize  int64
	PartCount int
}

// NewPlan picks max(minPart, ceil(size/10000)) rounded up to a whole MiB;
// an empty file gets no parts.
func NewPlan(size, minPart int64) (Plan, error) {
	if size < 0 {
		return Plan{}, apperr.Invalid("file_size", "must not be negative")
	}
	ps := max(minPart, ceilDiv(size, S3MaxParts))
	ps = ceilDiv(ps, MiB) * MiB
	if ps > S3MaxPart {
		return Plan{}, apperr.Invalid("file_size", "exceeds what 10,000 parts of 5 GiB can hold")
	}
	return Plan{Size: size, PartSize: ps, PartCount: int(ceilDiv(size, ps))}, nil
}

// PlanWithPartSize plans with a part size the client chose (Uppy picks
// its own chunk size): within S3's limits, and at most 10,000 parts.
func PlanWithPartSize(size, partSize int64) (Plan, error) {
	if size < 0 {
		return Plan{}, apperr.Invalid("file_size", "must not be negative")
	}
	if partSize < S3MinPart || partSize > S3MaxPart {
		return Plan{}, apperr.Invalid("part_size", fmt.Sprintf("must be from %d (5 MiB) to %d (5 GiB) bytes", S3MinPart, S3MaxPart))
	}
	n := ceilDiv(size, partSize)
	if n > S3MaxParts {
		return Plan{}, apperr.Invalid("part_size", fmt.Sprintf("makes %d parts; S3 allows 10,000", n))
	}
	return Plan{Size: size, PartSize: partSize, PartCount: int(n)}, nil
}

// UppyChunkSize is @uppy/aws-s3's default chunk size for a file: at least
// 5 MiB, and small enough for 10,000 parts.
func UppyChunkSize(size int64) int64 { return max(S3MinPart, ceilDiv(size, S3MaxParts)) }

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// PartLen is the exact length of part n (1-based).
func (p Plan) PartLen(n int) int64 {
	switch {
	case p.PartCount == 0:
		return 0
	case n < p.PartCount:
		return p.PartSize
	}
	return p.Size - int64(p.PartCount-1)*p.PartSize
}

// Checksum is a whole-file (or part) checksum as S3 spells it: base64 of
// the big-endian CRC.
//
// At open, Value may be left out: the session then takes it at completion
// (a client computes each part's CRC as it reads the part, and combines
// them), and S3 verifies every part as it arrives either way.
type Checksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value,omitempty"`
}

// ValidateChecksumValue checks a base64 CRC of the algorithm's width.
func ValidateChecksumValue(field, alg, value string) error {
	b, err := base64.StdEncoding.DecodeString(value)
	if err != nil || len(b) != crc.Size(alg) {
		return apperr.Invalid(field, fmt.Sprintf("must be the base64 of a %d-byte %s value", crc.Size(alg), alg))
	}
	return nil
}

func validateChecksum(c *Checksum) error {
	if c == nil {
		return nil
	}
	if crc.Size(c.Algorithm) == 0 {
		return apperr.Invalid("checksum.algorithm", "must be one of CRC64NVME, CRC32C, CRC32 (S3 full-object checksums)")
	}
	if c.Value == "" {
		return nil // given at completion
	}
	return ValidateChecksumValue("checksum.value", c.Algorithm, c.Value)
}

func partField(n int) string { return "checksums." + strconv.Itoa(n) }
