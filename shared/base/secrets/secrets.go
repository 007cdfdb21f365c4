// Package secrets makes and recognises bearer secrets: a prefix that
// says what they are (so a leaked one is recognisable) and 256 random
// bits in unpadded base64url, kept only as their SHA-256 (256 random bits
// need no slow hash: no brute force is feasible).
package secrets

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// New is a new secret with prefix.
func New(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// WellFormed reports whether s has New's shape under prefix.
func WellFormed(prefix, s string) bool {
	body, ok := strings.CutPrefix(s, prefix)
	if !ok || len(body) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	return err == nil && len(b) == 32
}

// Hash is the only form in which a secret is stored: its SHA-256, hex.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
