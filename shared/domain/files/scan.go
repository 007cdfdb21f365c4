package files

import (
	"encoding/json"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
)

// ScanStatus is where a version's malware scan stands.
type ScanStatus string

// The scan statuses. A version is pending from its upload until its
// verdict; off when the deployment scans nothing (or the version predates
// scanning).
const (
	ScanPending     ScanStatus = "pending"
	ScanClean       ScanStatus = "clean"
	ScanInfected    ScanStatus = "infected"
	ScanUnsupported ScanStatus = "unsupported" // the scanner cannot read it: over its size limit, encrypted, …
	ScanFailed      ScanStatus = "failed"      // the scanner could not finish (or could not read the object)
	ScanOff         ScanStatus = "off"
)

// ScanStatuses lists every status, as the listing filter accepts them.
var ScanStatuses = []ScanStatus{ScanPending, ScanClean, ScanInfected, ScanUnsupported, ScanFailed, ScanOff}

// Scan is a version's malware verdict (a file shows its main version's).
type Scan struct {
	Status    ScanStatus `json:"status"`
	ScannedAt *time.Time `json:"scanned_at"`
	// Threats names what the scanner found (infected only).
	Threats []string `json:"threats"`
	// PurgeAt is when an infected version's bytes are erased (its
	// quarantine ends), PurgedAt when they were; its record stays.
	PurgeAt  *time.Time `json:"purge_at"`
	PurgedAt *time.Time `json:"purged_at"`
	// Due is when the sweeper next acts on the version: looks at one
	// still pending (its object's tag; Looks counts how often it did), or
	// erases an infected one's bytes (PurgeAt).
	Due   time.Time `json:"-"`
	Looks int       `json:"-"`
}

// Quarantine is how long an infected version's bytes are kept after its
// verdict — never served, attached or made main, denied by the bucket
// policy — before the sweeper erases them. The account's usage counts
// them until then.
const Quarantine = 30 * 24 * time.Hour

// Infect makes s the infected verdict at, found threats: its bytes are
// quarantined until at+Quarantine (when the sweeper erases them).
func Infect(at time.Time, threats []string) Scan {
	purge := at.Add(Quarantine)
	return Scan{Status: ScanInfected, ScannedAt: &at, Threats: threats, PurgeAt: &purge, Due: purge}
}

// Quarantined reports whether the version's bytes are kept in quarantine
// (infected, not yet erased).
func (s Scan) Quarantined() bool {
	return s.Status == ScanInfected && s.PurgedAt == nil
}

// ScanOverdue is how long after its upload a version still pending is
// looked at by the sweeper (GuardDuty reports within seconds; its event
// may have come before the upload's completion was recorded, or been
// lost).
const ScanOverdue = 15 * time.Minute

// NewScan is the scan of a version uploaded at now: pending when the
// deployment scans (the sweeper looks at it after ScanOverdue), else off.
func NewScan(scanning bool, now time.Time) Scan {
	if scanning {
		return Scan{Status: ScanPending, Due: now.Add(ScanOverdue)}
	}
	return Scan{Status: ScanOff}
}

// Current is s as the API shows it: a version stored before scanning
// existed (no status) is off.
func (s Scan) Current() Scan {
	if s.Status == "" {
		s.Status = ScanOff
	}
	if s.Threats == nil {
		s.Threats = []string{}
	}
	return s
}

// MarshalJSON writes the current form (status off, threats [] when unset).
func (s Scan) MarshalJSON() ([]byte, error) {
	type plain Scan
	return json.Marshal(plain(s.Current()))
}

// PendingPolicy is what an account does with a version whose verdict has
// not come: block it (the default) or allow it.
type PendingPolicy string

// The pending policies.
const (
	PendingBlock PendingPolicy = "block"
	PendingAllow PendingPolicy = "allow"
)

// Or is p, or PendingBlock when unset.
func (p PendingPolicy) Or() PendingPolicy {
	if p == "" {
		return PendingBlock
	}
	return p
}

// Infected is the error of an operation on an infected version.
func Infected(fileUUID string) *apperr.Error {
	return apperr.New(apperr.KindForbidden, "file_infected",
		"file "+fileUUID+" is infected: malware was found in it, so it is never served, attached or made main")
}

// NeedsPolicy reports whether Servable's answer depends on the account's
// pending policy (so the caller reads it only then).
func (s Scan) NeedsPolicy() bool {
	return s.Status == ScanPending || s.Status == ScanFailed
}

// Servable says whether a version with this scan may be downloaded under
// the account's pending policy: never when infected; under block, not
// while pending or when the scan failed (a failed scan is surfaced, never
// served as clean); otherwise yes (clean, unsupported, off).
func (s Scan) Servable(fileUUID string, policy PendingPolicy) error {
	switch s.Status {
	case ScanInfected:
		return Infected(fileUUID)
	case ScanPending:
		if policy.Or() == PendingBlock {
			return apperr.New(apperr.KindConflict, "scan_pending",
				"file "+fileUUID+" is being scanned for malware; it can be downloaded once it is clean (usually within a minute)").
				With("retry_after_seconds", 5)
		}
	case ScanFailed:
		if policy.Or() == PendingBlock {
			return apperr.New(apperr.KindConflict, "scan_failed",
				"the malware scan of file "+fileUUID+" failed, so it is not served; upload it again, or set the account's scan_pending policy to allow")
		}
	}
	return nil
}

// Settings are an account's own settings (GET and PATCH /v1/account).
type Settings struct {
	// ScanPending: what a version whose malware verdict has not come (or
	// whose scan failed) may do — block (the default) or allow downloads.
	ScanPending PendingPolicy `json:"scan_pending"`
}

// Current is s with its defaults filled in.
func (s Settings) Current() Settings {
	s.ScanPending = s.ScanPending.Or()
	return s
}
