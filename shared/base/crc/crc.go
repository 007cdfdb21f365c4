// Package crc holds the CRCs S3 verifies as full-object checksums (CRC32,
// CRC32C, CRC64NVME), spelled as S3 spells them (base64 of the big-endian
// value), and combines them: the CRC of a concatenation is computed from
// the CRCs of its pieces and their lengths, without reading the bytes
// again. That is how one pass over a file gives each part's CRC (signed
// into the part's URL) and the whole file's (checked at completion).
package crc

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"sync"
)

// The algorithms S3 takes as full-object checksums.
const (
	CRC32     = "CRC32"
	CRC32C    = "CRC32C"
	CRC64NVME = "CRC64NVME"
)

// Algorithms lists them, strongest first.
var Algorithms = []string{CRC64NVME, CRC32C, CRC32}

// poly is one reflected CRC with all-ones init and final xor (all three).
type poly struct {
	width uint   // 32 or 64
	rev   uint64 // the reflected polynomial
	once  sync.Once
	x2n   [64]uint64 // x^(2^k) mod p, reflected
	new   func() hash.Hash
}

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	nvme       = crc64.MakeTable(0x9a6c9329ac4bc9b5) // CRC-64/NVME
	polys      = map[string]*poly{
		CRC32:     {width: 32, rev: crc32.IEEE, new: func() hash.Hash { return crc32.NewIEEE() }},
		CRC32C:    {width: 32, rev: crc32.Castagnoli, new: func() hash.Hash { return crc32.New(castagnoli) }},
		CRC64NVME: {width: 64, rev: 0x9a6c9329ac4bc9b5, new: func() hash.Hash { return crc64.New(nvme) }},
	}
)

// Size is the width of alg's value in bytes (0: not an algorithm S3 takes).
func Size(alg string) int {
	if p, ok := polys[alg]; ok {
		return int(p.width / 8)
	}
	return 0
}

// New returns a hash of alg whose Sum is the big-endian value, or nil.
func New(alg string) hash.Hash {
	if p, ok := polys[alg]; ok {
		return p.new()
	}
	return nil
}

// Of is the base64 CRC of data ("" for an unknown algorithm).
func Of(alg string, data []byte) string {
	h := New(alg)
	if h == nil {
		return ""
	}
	h.Write(data)
	return Encode(h)
}

// Encode is h's value as S3 spells it.
func Encode(h hash.Hash) string { return base64.StdEncoding.EncodeToString(h.Sum(nil)) }

// Empty is the CRC of no bytes: zero.
func Empty(alg string) string { return base64.StdEncoding.EncodeToString(make([]byte, Size(alg))) }

// Piece is a CRC (base64) of Size bytes.
type Piece struct {
	Value string
	Size  int64
}

// Combine is the CRC of the pieces' bytes one after another.
func Combine(alg string, pieces []Piece) (string, error) {
	p, ok := polys[alg]
	if !ok {
		return "", fmt.Errorf("crc: unknown algorithm %q", alg)
	}
	var sum uint64
	for i, pc := range pieces {
		v, err := p.decode(pc.Value)
		if err != nil {
			return "", fmt.Errorf("crc: piece %d: %w", i, err)
		}
		if i == 0 {
			sum = v
			continue
		}
		sum = p.combine(sum, v, pc.Size)
	}
	if len(pieces) == 0 {
		return Empty(alg), nil
	}
	return p.encode(sum), nil
}

func (p *poly) decode(s string) (uint64, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != int(p.width/8) {
		return 0, fmt.Errorf("not the base64 of a %d-byte value", p.width/8)
	}
	if p.width == 32 {
		return uint64(binary.BigEndian.Uint32(b)), nil
	}
	return binary.BigEndian.Uint64(b), nil
}

func (p *poly) encode(v uint64) string {
	b := binary.BigEndian.AppendUint64(nil, v)
	return base64.StdEncoding.EncodeToString(b[8-p.width/8:])
}

// combine is zlib's crc32_combine for any width: crc(A‖B) from crc(A),
// crc(B) and len(B), multiplying crc(A) by x^(8·len(B)) modulo p.
func (p *poly) combine(a, b uint64, lenB int64) uint64 {
	return p.mult(p.xPow8n(uint64(lenB)), a) ^ b
}

// mult multiplies two reflected polynomials modulo p.
func (p *poly) mult(a, b uint64) uint64 {
	m := uint64(1) << (p.width - 1)
	var r uint64
	for a != 0 {
		if a&m != 0 {
			r ^= b
			a &^= m
		}
		m >>= 1
		if b&1 != 0 {
			b = b>>1 ^ p.rev
		} else {
			b >>= 1
		}
	}
	return r
}

// xPow8n is x^(8n) modulo p: the product of the table's x^(2^k) for the
// bits k of 8n.
func (p *poly) xPow8n(n uint64) uint64 {
	p.once.Do(func() {
		p.x2n[0] = 1 << (p.width - 2) // x^1
		for k := 1; k < len(p.x2n); k++ {
			p.x2n[k] = p.mult(p.x2n[k-1], p.x2n[k-1])
		}
	})
	r := uint64(1) << (p.width - 1) // x^0
	for k := 3; n != 0 && k < len(p.x2n); k++ {
		if n&1 != 0 {
			r = p.mult(p.x2n[k], r)
		}
		n >>= 1
	}
	return r
}
