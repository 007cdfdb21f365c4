package upload

import (
	"sync"
	"time"
)

// sessionCache keeps open sessions a warm process has read, so presigning
// part URLs needs no AWS request: everything signing uses (key, upload id,
// plan, checksum algorithm, expiry) never changes after open. Only the
// status does; a session completed or aborted by another process stays
// cached for at most the cache TTL, and the URLs signed meanwhile are
// refused by S3 (the upload id no longer exists), so nothing is stored.
// Complete and Abort in this process forget the session at once.
type sessionCache struct {
	ttl time.Duration // <= 0: off
	max int

	mu sync.Mutex
	m  map[string]cachedSession
}

type cachedSession struct {
	sess  Session
	until time.Time
}

// DefaultSessionCacheEntries bounds the cache (a few KiB each at most).
const DefaultSessionCacheEntries = 4096

func newSessionCache(ttl time.Duration, max int) *sessionCache {
	return &sessionCache{ttl: ttl, max: max, m: map[string]cachedSession{}}
}

func cacheKey(accountID, id string) string { return accountID + "/" + id }

// get returns a cached open session that has not reached its cache expiry.
func (c *sessionCache) get(accountID, id string, now time.Time) (Session, bool) {
	if c.ttl <= 0 {
		return Session{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[cacheKey(accountID, id)]
	if !ok || !now.Before(e.until) {
		return Session{}, false
	}
	return e.sess, true
}

// put caches an open session until the TTL or its own expiry, whichever
// comes first. Other statuses are never cached.
func (c *sessionCache) put(sess Session, now time.Time) {
	if c.ttl <= 0 || sess.StatusAt(now) != StatusOpen {
		return
	}
	until := now.Add(c.ttl)
	if sess.ExpiresAt.Before(until) {
		until = sess.ExpiresAt
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max { // all live: start over rather than grow
			clear(c.m)
		}
	}
	c.m[cacheKey(sess.AccountID, sess.ID)] = cachedSession{sess: sess, until: until}
}

func (c *sessionCache) forget(accountID, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, cacheKey(accountID, id))
}
