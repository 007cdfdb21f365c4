package requests

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/secrets"
)

// LinkPrefix starts every link secret, so a leaked one is recognisable.
const LinkPrefix = "anr_"

// newLink is a link's secret: 256 random bits.
func newLink() string { return secrets.New(LinkPrefix) }

// HashLink is the only form in which a link's secret is stored.
func HashLink(secret string) string { return secrets.Hash(secret) }

// WellFormedLink reports whether a secret has newLink's shape.
func WellFormedLink(secret string) bool { return secrets.WellFormed(LinkPrefix, secret) }

// Passcodes are people's words, so they are stored as PBKDF2-SHA256 with a
// salt of their own; attempts are limited (Lockout) so guessing one
// through the API is out of reach.
const (
	passcodeIter    = 60000
	MinPasscode     = 6
	MaxPasscode     = 64
	MaxFailures     = 5                // wrong passcodes before a lockout
	FailureWindow   = 15 * time.Minute // counted over, and locked for
	passcodeKeySize = 32
)

// HashPasscode hashes a passcode for storage: "pbkdf2-sha256$iter$salt$key".
func HashPasscode(code string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	return hashWith(code, salt, passcodeIter)
}

func hashWith(code string, salt []byte, iter int) string {
	key, err := pbkdf2.Key(sha256.New, code, salt, iter, passcodeKeySize)
	if err != nil {
		panic("requests: pbkdf2: " + err.Error()) // only in FIPS-only mode with short salts
	}
	return "pbkdf2-sha256$" + strconv.Itoa(iter) + "$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key)
}

// CheckPasscode reports whether code is the passcode hashed as stored.
func CheckPasscode(stored, code string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	salt, err2 := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || err2 != nil || iter < 1 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashWith(code, salt, iter)), []byte(stored)) == 1
}

// passcodeMemory remembers passcodes checked right, by request and the
// passcode's SHA-256 (never the passcode), for a few minutes: PBKDF2 costs
// tens of milliseconds, and a page calls once per part. A request's
// passcode never changes, so a remembered check stays true.
type passcodeMemory struct {
	mu sync.Mutex
	m  map[string]time.Time // until when
}

const (
	passcodeRemembered = 10 * time.Minute
	passcodesKept      = 10000
)

func (pm *passcodeMemory) key(r Request, code string) string {
	return r.AccountID + "/" + r.ID + "/" + secrets.Hash(code)
}

func (pm *passcodeMemory) knows(r Request, code string, now time.Time) bool {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	return now.Before(pm.m[pm.key(r, code)])
}

func (pm *passcodeMemory) remember(r Request, code string, now time.Time) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if pm.m == nil || len(pm.m) >= passcodesKept {
		pm.m = map[string]time.Time{}
	}
	pm.m[pm.key(r, code)] = now.Add(passcodeRemembered)
}

// Lockout is when a request whose passcode was mistyped too often takes
// attempts again (zero: it takes them now).
func (r Request) Lockout(now time.Time) time.Time {
	end := r.FailedSince.Add(FailureWindow)
	if r.Failures >= MaxFailures && now.Before(end) {
		return end
	}
	return time.Time{}
}

// failed is r after a wrong passcode at now.
func (r Request) failed(now time.Time) Request {
	if now.Sub(r.FailedSince) >= FailureWindow {
		r.Failures, r.FailedSince = 0, now.UTC().Truncate(time.Second)
	}
	r.Failures++
	return r
}

// OpenWindow is the period over which a link's upload opens are counted.
const OpenWindow = time.Hour

// MaxOpens is how many uploads a link may open an hour: ten per file it
// takes, and at least 50 (retries, reloads, pauses).
func (r Request) MaxOpens() int { return max(50, 10*r.MaxFiles) }

// opened is r after an upload opened at now, or an error when the link
// opened its hour's share already.
func (r Request) opened(now time.Time) (Request, error) {
	if now.Sub(r.OpensSince) >= OpenWindow {
		r.Opens, r.OpensSince = 0, now.UTC().Truncate(time.Second)
	}
	if r.Opens >= r.MaxOpens() {
		wait := r.OpensSince.Add(OpenWindow).Sub(now)
		return Request{}, apperr.New(apperr.KindTooMany, "request_busy",
			"this link opened the uploads it may open in an hour; try again later").With("retry_after_seconds", int(wait/time.Second)+1)
	}
	r.Opens++
	return r, nil
}
