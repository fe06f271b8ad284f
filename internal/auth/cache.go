package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// A verified-credentials cache, as SFTPGo keeps: after a password has
// matched a stored hash once, the same password for the same hash is
// accepted for a while without running argon2id again. Logins of a user
// who connects again and again (backup jobs, mirrors) then cost a keyed
// SHA-256 instead of 64 MiB of memory-hard hashing.
//
// What is kept is an HMAC of the password under a key made at start and
// never stored, so the cache's memory reveals nothing usable. Entries
// are keyed by the stored hash: a changed password (a new, differently
// salted hash) never matches an old entry. Only successes are cached, so
// guessing still pays full price, and a hit tells an attacker only what
// the successful login tells them anyway.
const (
	cacheTTL     = 10 * time.Minute
	cacheEntries = 10_000
)

type verifiedCache struct {
	key [32]byte
	now func() time.Time

	mu sync.Mutex
	m  map[string]cacheEntry // by stored hash
}

type cacheEntry struct {
	mac     [sha256.Size]byte
	expires time.Time
}

func newVerifiedCache() *verifiedCache {
	c := &verifiedCache{now: time.Now, m: make(map[string]cacheEntry)}
	_, _ = rand.Read(c.key[:])
	return c
}

func (c *verifiedCache) mac(hash, password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, c.key[:])
	m.Write([]byte(hash))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var out [sha256.Size]byte
	copy(out[:], m.Sum(nil))
	return out
}

// hit reports whether password was verified against hash recently.
func (c *verifiedCache) hit(hash, password string) bool {
	mac := c.mac(hash, password)
	c.mu.Lock()
	e, ok := c.m[hash]
	c.mu.Unlock()
	return ok && c.now().Before(e.expires) && hmac.Equal(e.mac[:], mac[:])
}

// add remembers a successful verification.
func (c *verifiedCache) add(hash, password string) {
	mac := c.mac(hash, password)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= cacheEntries {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		for k := range c.m { // still full: drop arbitrary entries
			if len(c.m) < cacheEntries*9/10 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[hash] = cacheEntry{mac: mac, expires: now.Add(cacheTTL)}
}
