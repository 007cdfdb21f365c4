// Package memory holds in-memory implementations of the domain's ports,
// with the semantics of the AWS adapters: the metadata store (Store:
// auth.Store, upload.Store, catalog.Store, entities.Store, batches.Store,
// outbox.Outbox, webhooks.Store and requests.Store, as the DynamoDB table
// keeps them) and
// the bucket (Blobs, as S3 keeps objects, versions and multipart uploads).
// They check the same conditions, report the same errors and apply each
// multi-item write all or nothing. The conformance suites run against
// them as against the emulators and moto_server, so the services' unit
// tests and the HTTP handler tests can use them and stay fast. Signing
// keys have theirs beside their port (keyring.Memory).
package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/batches"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/requests"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

// Store is the metadata store in memory: accounts and tokens, upload
// sessions, files and versions, entities and attachments, batches, the
// outbox, webhooks and their deliveries. The zero value is an empty store,
// safe for concurrent use.
type Store struct {
	mu         sync.Mutex
	accounts   map[string]*account
	secrets    map[string]*secret                      // by the hash of a valid secret
	sessions   map[string]*session                     // by account and id (a session may name an account the store lacks, as in the table)
	seqs       map[string]int64                        // per-account sequences, by account and name
	webhooks   map[string]webhooks.Webhook             // by account and id (webhookKey)
	deliveries map[string]map[string]webhooks.Delivery // by webhook, then event id
	leases     map[string]map[int]time.Time            // a webhook's attempt slots (webhookKey): slot → lease end
	links      map[string]requestKey                   // file requests' links, by the hash of their secret
}

type account struct {
	auth.Account
	usage    files.Usage
	settings files.Settings
	nextID   int64
	tokens   map[string]auth.Token // by id, as stored in the account
	files    map[string]files.File
	versions map[string]map[string]files.Version // file uuid → version uuid →
	ids      map[int64]string                    // numeric file id → uuid
	attached map[string]entities.Attachment      // by attachKey
	entities map[string]entities.Entity          // by entityKey
	codes    map[string]string                   // entity code alias (codeKey) → entity uuid
	batches  map[string]batches.Batch
	requests map[string]requests.Request // file requests, by id
	records  []outbox.Record             // the outbox, in position order
}

// attachKey identifies an attachment as the table's sort key does: entity,
// file, kind and note or field id.
func attachKey(a entities.Attachment) string {
	return string(a.Entity.Type) + "#" + a.Entity.UUID + "#" + a.FileUUID + "#" + string(a.Kind) + "#" + a.RefID
}

type session struct {
	upload.Session
	due time.Time // the sweeper's next look; zero: out of its index
}

// secret is one valid secret of a token, as the authorizer reads it.
type secret struct {
	token    auth.Token // id, account, name, scopes, allowed domain, created at
	expires  time.Time  // the token's expiry, or a replaced secret's grace end
	lastUsed time.Time
}

// do runs fn under the store's lock.
func (s *Store) do(fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.accounts == nil {
		s.accounts, s.secrets, s.sessions = map[string]*account{}, map[string]*secret{}, map[string]*session{}
		s.webhooks, s.deliveries = map[string]webhooks.Webhook{}, map[string]map[string]webhooks.Delivery{}
		s.leases, s.links = map[string]map[int]time.Time{}, map[string]requestKey{}
	}
	return fn()
}

// fits reports whether the account's quota holds size more bytes.
func (a *account) fits(size int64) bool {
	return a.usage.QuotaBytes == 0 || a.usage.QuotaBytes-a.usage.UsedBytes >= size
}

// account returns an account or apperr.ErrNotFound.
func (s *Store) account(id string) (*account, error) {
	a, ok := s.accounts[id]
	if !ok {
		return nil, fmt.Errorf("account %s: %w", id, apperr.ErrNotFound)
	}
	return a, nil
}

// read returns what pick finds in an account, or apperr.ErrNotFound.
func read[T any](s *Store, accountID string, pick func(*account) (T, bool)) (T, error) {
	var out T
	err := s.do(func() error {
		a, ok := s.accounts[accountID]
		if ok {
			out, ok = pick(a)
		}
		if !ok {
			return apperr.ErrNotFound
		}
		return nil
	})
	return out, err
}

// PutAccount implements auth.Store.
func (s *Store) PutAccount(_ context.Context, a auth.Account) error {
	return s.do(func() error {
		if _, ok := s.accounts[a.ID]; ok {
			return apperr.ErrConflict
		}
		s.accounts[a.ID] = &account{Account: a, usage: files.Usage{QuotaBytes: a.QuotaBytes},
			tokens: map[string]auth.Token{}, files: map[string]files.File{}, versions: map[string]map[string]files.Version{},
			ids: map[int64]string{}, attached: map[string]entities.Attachment{}, entities: map[string]entities.Entity{},
			codes: map[string]string{}, batches: map[string]batches.Batch{}, requests: map[string]requests.Request{}}
		return nil
	})
}

// GetAccount implements auth.Store.
func (s *Store) GetAccount(_ context.Context, id string) (auth.Account, error) {
	return read(s, id, func(a *account) (auth.Account, bool) { return a.Account, true })
}

// ListAccounts implements auth.Store: the directory lists id, name and
// creation time, by id.
func (s *Store) ListAccounts(context.Context) ([]auth.Account, error) {
	var out []auth.Account
	err := s.do(func() error {
		for _, a := range s.accounts {
			out = append(out, auth.Account{ID: a.ID, Name: a.Name, CreatedAt: a.CreatedAt})
		}
		slices.SortFunc(out, func(a, b auth.Account) int { return strings.Compare(a.ID, b.ID) })
		return nil
	})
	return out, err
}

// Usage reads an account's counters.
func (s *Store) Usage(_ context.Context, accountID string) (files.Usage, error) {
	return read(s, accountID, func(a *account) (files.Usage, bool) { return a.usage, true })
}

// Settings reads the account's settings.
func (s *Store) Settings(_ context.Context, accountID string) (files.Settings, error) {
	return read(s, accountID, func(a *account) (files.Settings, bool) { return a.settings, true })
}

// SetSettings writes the account's settings.
func (s *Store) SetSettings(_ context.Context, accountID string, st files.Settings) error {
	return s.do(func() error {
		a, ok := s.accounts[accountID]
		if !ok {
			return apperr.ErrNotFound
		}
		a.settings = st.Current()
		return nil
	})
}

// copyToken is t without aliasing the caller's slices.
func copyToken(t auth.Token) auth.Token {
	t.Scopes = slices.Clone(t.Scopes)
	t.Previous = slices.Clone(t.Previous)
	return t
}

// PutToken implements auth.Store.
func (s *Store) PutToken(_ context.Context, t auth.Token) error {
	return s.do(func() error {
		a, err := s.account(t.AccountID)
		if err != nil {
			return err
		}
		if _, ok := s.secrets[t.Hash]; ok {
			return apperr.ErrConflict
		}
		if _, ok := a.tokens[t.ID]; ok {
			return apperr.ErrConflict
		}
		t.LastUsedAt = time.Time{}
		a.tokens[t.ID] = copyToken(t)
		s.secrets[t.Hash] = &secret{token: copyToken(t), expires: t.ExpiresAt}
		return nil
	})
}

// GetTokenByHash implements auth.Store.
func (s *Store) GetTokenByHash(_ context.Context, hash string) (auth.Token, error) {
	var out auth.Token
	err := s.do(func() error {
		sec, ok := s.secrets[hash]
		if !ok {
			return apperr.ErrNotFound
		}
		t := sec.token
		out = auth.Token{ID: t.ID, AccountID: t.AccountID, Name: t.Name, Hash: hash, Scopes: slices.Clone(t.Scopes),
			AllowedDomain: t.AllowedDomain, CreatedAt: t.CreatedAt, ExpiresAt: sec.expires, LastUsedAt: sec.lastUsed}
		return nil
	})
	return out, err
}

// GetToken implements auth.Store.
func (s *Store) GetToken(_ context.Context, accountID, id string) (auth.Token, error) {
	return read(s, accountID, func(a *account) (auth.Token, bool) {
		t, ok := a.tokens[id]
		return copyToken(t), ok
	})
}

// ListTokens implements auth.Store: by id.
func (s *Store) ListTokens(_ context.Context, accountID string) ([]auth.Token, error) {
	var out []auth.Token
	err := s.do(func() error {
		if a, ok := s.accounts[accountID]; ok {
			for _, t := range a.tokens {
				out = append(out, copyToken(t))
			}
		}
		slices.SortFunc(out, func(a, b auth.Token) int { return strings.Compare(a.ID, b.ID) })
		return nil
	})
	return out, err
}

// LastUsed implements auth.Store: revoked tokens have no valid secret, so
// no last use.
func (s *Store) LastUsed(_ context.Context, ts []auth.Token) error {
	return s.do(func() error {
		used := func(hash string) time.Time {
			if sec, ok := s.secrets[hash]; ok {
				return sec.lastUsed
			}
			return time.Time{}
		}
		for i := range ts {
			t := &ts[i]
			t.LastUsedAt = time.Time{}
			if !t.RevokedAt.IsZero() {
				continue
			}
			t.LastUsedAt = used(t.Hash)
			for j := range t.Previous {
				p := &t.Previous[j]
				p.LastUsedAt = used(p.Hash)
				if p.LastUsedAt.After(t.LastUsedAt) {
					t.LastUsedAt = p.LastUsedAt
				}
			}
		}
		return nil
	})
}

// current returns the account's token t when its secret is still t.Hash
// and it is not revoked (apperr.ErrConflict otherwise).
func (s *Store) current(t auth.Token) (*account, auth.Token, error) {
	a, ok := s.accounts[t.AccountID]
	if !ok {
		return nil, auth.Token{}, apperr.ErrConflict
	}
	cur, ok := a.tokens[t.ID]
	if !ok || cur.Hash != t.Hash || !cur.RevokedAt.IsZero() {
		return nil, auth.Token{}, apperr.ErrConflict
	}
	return a, cur, nil
}

// secretEnd is when a secret of t valid until until stops: until, or the
// token's expiry if earlier (zero until: the token's expiry).
func secretEnd(t auth.Token, until time.Time) time.Time {
	if !until.IsZero() && (t.ExpiresAt.IsZero() || until.Before(t.ExpiresAt)) {
		return until
	}
	return t.ExpiresAt
}

// RotateToken implements auth.Store.
func (s *Store) RotateToken(_ context.Context, old, next auth.Token, drop []string) error {
	return s.do(func() error {
		a, cur, err := s.current(old)
		if err != nil {
			return err
		}
		if _, ok := s.secrets[next.Hash]; ok {
			return apperr.ErrConflict
		}
		var graceEnd *time.Time
		for _, p := range next.Previous {
			if p.Hash == old.Hash {
				if _, ok := s.secrets[old.Hash]; !ok {
					return apperr.ErrConflict
				}
				end := secretEnd(old, p.Until)
				graceEnd = &end
			}
		}
		cur.Hash, cur.RotatedAt, cur.Previous = next.Hash, next.RotatedAt, slices.Clone(next.Previous)
		a.tokens[cur.ID] = cur
		s.secrets[next.Hash] = &secret{token: copyToken(next), expires: next.ExpiresAt}
		if graceEnd != nil {
			s.secrets[old.Hash].expires = *graceEnd
		}
		for _, h := range drop {
			delete(s.secrets, h)
		}
		return nil
	})
}

// RevokeToken implements auth.Store.
func (s *Store) RevokeToken(_ context.Context, t auth.Token, at time.Time) error {
	return s.do(func() error {
		a, cur, err := s.current(t)
		if err != nil {
			return err
		}
		cur.RevokedAt = at
		a.tokens[cur.ID] = cur
		delete(s.secrets, t.Hash)
		for _, p := range t.Previous {
			delete(s.secrets, p.Hash)
		}
		return nil
	})
}

// TouchToken implements auth.Store.
func (s *Store) TouchToken(_ context.Context, hash string, at, notBefore time.Time) error {
	return s.do(func() error {
		sec, ok := s.secrets[hash]
		if !ok || !sec.lastUsed.IsZero() && !sec.lastUsed.Before(notBefore) {
			return apperr.ErrConflict
		}
		sec.lastUsed = at
		return nil
	})
}

// ReserveFileID implements upload.Store.
func (s *Store) ReserveFileID(ctx context.Context, accountID string) (int64, files.Usage, error) {
	return s.reserve(accountID, 1)
}

// reserve adds n to the account's file id counter and returns its new
// value.
func (s *Store) reserve(accountID string, n int64) (int64, files.Usage, error) {
	var last int64
	var u files.Usage
	err := s.do(func() error {
		a, err := s.account(accountID)
		if err != nil {
			return err
		}
		a.nextID += n
		last, u = a.nextID, a.usage
		return nil
	})
	return last, u, err
}

// FileWithUsage implements upload.Store.
func (s *Store) FileWithUsage(_ context.Context, accountID, fileUUID string) (files.File, files.Usage, error) {
	var f files.File
	var u files.Usage
	err := s.do(func() error {
		a, ok := s.accounts[accountID]
		if !ok {
			return apperr.ErrNotFound
		}
		var found bool
		if f, found = a.files[fileUUID]; !found {
			return apperr.ErrNotFound
		}
		u = a.usage
		return nil
	})
	return f, u, err
}

func copySession(ss upload.Session) upload.Session {
	if ss.Checksum != nil {
		c := *ss.Checksum
		ss.Checksum = &c
	}
	ss.Attach = slices.Clone(ss.Attach)
	return ss
}

// PutSession implements upload.Store: an open session enters the
// sweeper's index, due upload.SettleAfter after its creation.
func (s *Store) PutSession(_ context.Context, ss upload.Session) error {
	return s.do(func() error {
		if _, ok := s.sessions[ss.AccountID+"/"+ss.ID]; ok {
			return apperr.ErrConflict
		}
		it := &session{Session: copySession(ss)}
		if ss.Status == upload.StatusOpen {
			it.due = ss.CreatedAt.Add(upload.SettleAfter)
		}
		s.sessions[ss.AccountID+"/"+ss.ID] = it
		return nil
	})
}

// GetSession implements upload.Store.
func (s *Store) GetSession(_ context.Context, accountID, id string) (upload.Session, error) {
	var out upload.Session
	err := s.do(func() error {
		it, err := s.session(accountID, id)
		if err == nil {
			out = copySession(it.Session)
		}
		return err
	})
	return out, err
}

func (s *Store) session(accountID, id string) (*session, error) {
	if it, ok := s.sessions[accountID+"/"+id]; ok {
		return it, nil
	}
	return nil, apperr.ErrNotFound
}

// SetSessionStatus implements upload.Store.
func (s *Store) SetSessionStatus(_ context.Context, accountID, id string, from, to upload.Status, at time.Time) error {
	return s.do(func() error {
		it, err := s.session(accountID, id)
		if err != nil || it.Status != from {
			return apperr.ErrConflict
		}
		it.Status, it.CompletedAt = to, at
		return nil
	})
}

// DueSessions implements upload.Store: sessions due strictly before
// before, soonest first.
func (s *Store) DueSessions(_ context.Context, before time.Time, limit int) ([]upload.Session, error) {
	var all []due[upload.Session]
	err := s.do(func() error {
		for key, it := range s.sessions {
			if !it.due.IsZero() && it.due.Before(before) {
				all = append(all, due[upload.Session]{it.due, key, copySession(it.Session)})
			}
		}
		return nil
	})
	return soonest(all, limit), err
}

// RescheduleSession implements upload.Store: an open session's next look
// moves to at; a zero at takes any session out of the index.
func (s *Store) RescheduleSession(_ context.Context, accountID, id string, at time.Time, rec *outbox.Record) error {
	return s.do(func() error {
		it, err := s.session(accountID, id)
		switch {
		case err != nil:
		case at.IsZero():
			if !it.due.IsZero() && it.Status == upload.StatusOpen {
				s.accounts[accountID].write(rec) // an expired session leaves with its event, once
			}
			it.due = time.Time{}
		case it.Status == upload.StatusOpen:
			it.due = at
		}
		return nil
	})
}

// GetFile reads a file of an account.
func (s *Store) GetFile(_ context.Context, accountID, fileUUID string) (files.File, error) {
	return read(s, accountID, func(a *account) (files.File, bool) { f, ok := a.files[fileUUID]; return f, ok })
}

// GetVersion reads one version of a file.
func (s *Store) GetVersion(_ context.Context, accountID, fileUUID, versionUUID string) (files.Version, error) {
	return read(s, accountID, func(a *account) (files.Version, bool) { v, ok := a.versions[fileUUID][versionUUID]; return v, ok })
}

// Commit implements upload.Store, all or nothing: the session must be
// open, a new file absent (an existing one present and not trashed), the
// version new, the account's quota must hold the bytes, and a new file's
// numeric id free. The errors follow the adapter's precedence.
func (s *Store) Commit(_ context.Context, c upload.Commit) error {
	return s.do(func() error {
		acct := c.Session.AccountID
		a, ok := s.accounts[acct]
		sess, err := s.session(acct, c.Session.ID)
		if err != nil || sess.Status != upload.StatusOpen {
			return upload.ErrSessionNotOpen
		}
		if !ok {
			return apperr.ErrQuota // the account's condition fails, as in the table
		}
		cur, exists := a.files[c.File.UUID]
		if c.NewFile == exists || exists && cur.IsTrashed {
			return upload.ErrFileGone
		}
		size := c.Version.Size
		if !a.fits(size) {
			return apperr.ErrQuota
		}
		if _, dup := a.versions[c.File.UUID][c.Version.UUID]; dup {
			return fmt.Errorf("%w: version %s exists", apperr.ErrConflict, c.Version.UUID)
		}
		if _, dup := a.ids[c.File.ID]; dup && c.NewFile {
			return fmt.Errorf("%w: file id %d is taken", apperr.ErrConflict, c.File.ID)
		}
		if c.Request != nil {
			if err := a.checkRequest(*c.Request); err != nil {
				return err
			}
			a.requests[c.Request.Request.ID] = c.Request.Request
		}
		sess.Status, sess.CompletedAt = upload.StatusCompleted, c.File.UpdatedAt
		v := c.Version
		v.AccountID = acct
		if c.NewFile {
			f := c.File
			f.AccountID = acct
			a.files[f.UUID] = f
			a.ids[f.ID] = f.UUID
			a.usage.FileCount++
			a.putVersion(v)
		} else {
			a.addVersion(cur, c.File, v)
		}
		for _, at := range c.Attach { // unconditional: the session's condition makes them once
			a.attached[attachKey(at)] = at
		}
		a.write(c.Events)
		return nil
	})
}

// The ports the store implements.
var (
	_ auth.Store     = (*Store)(nil)
	_ upload.Store   = (*Store)(nil)
	_ catalog.Store  = (*Store)(nil)
	_ entities.Store = (*Store)(nil)
	_ batches.Store  = (*Store)(nil)
	_ requests.Store = (*Store)(nil)
)

// AddFile records a file and its main version as a completion would
// (numeric id, counters), without a session: tests seed stores with it.
func (s *Store) AddFile(f files.File, v files.Version) error {
	return s.do(func() error {
		a, err := s.account(f.AccountID)
		if err != nil {
			return err
		}
		if _, ok := a.files[f.UUID]; ok {
			return apperr.ErrConflict
		}
		a.files[f.UUID], a.ids[f.ID] = f, f.UUID
		a.versions[f.UUID] = map[string]files.Version{v.UUID: v}
		if a.nextID < f.ID {
			a.nextID = f.ID
		}
		a.usage.UsedBytes += f.TotalBytes
		a.usage.FileCount++
		a.usage.VersionCount += f.VersionCount
		return nil
	})
}

// AddVersion records v as the new main version of file f (f as it is
// after the change), as a completion would, without a session.
func (s *Store) AddVersion(f files.File, v files.Version) error {
	return s.do(func() error {
		a, err := s.account(f.AccountID)
		if err != nil {
			return err
		}
		cur, ok := a.files[f.UUID]
		if !ok {
			return apperr.ErrNotFound
		}
		f.Scan = v.Scan
		a.addVersion(cur, f, v)
		return nil
	})
}

// addVersion records v as file cur's new main version (its main-version
// fields from f) and counts its bytes.
func (a *account) addVersion(cur, f files.File, v files.Version) {
	cur = mainVersion(cur, f)
	cur.VersionCount++
	cur.TotalBytes += v.Size
	a.files[cur.UUID] = cur
	a.putVersion(v)
}

// putVersion stores v and counts its bytes in the account's usage.
func (a *account) putVersion(v files.Version) {
	if a.versions[v.FileUUID] == nil {
		a.versions[v.FileUUID] = map[string]files.Version{}
	}
	a.versions[v.FileUUID][v.UUID] = v
	a.usage.UsedBytes += v.Size
	a.usage.VersionCount++
}
