package server

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// BanPolicy is the login defence: failed logins are counted per client IP
// and per user name; each failure makes the next reply slower, and an IP
// with After failures within Window is refused for For. A user name with
// 3×After failures within Window (a distributed guess) is refused for For
// too, from every address — a lockout an attacker can cause, which is why
// its threshold is higher.
//
// In Config, a zero After means the default (10 in 10 minutes, banned for
// 10 minutes); a negative After turns bans off. Loopback is not exempt.
type BanPolicy struct {
	After  int
	Window time.Duration
	For    time.Duration
}

// DefaultBanPolicy is used for a zero Config.Ban.
var DefaultBanPolicy = BanPolicy{After: 10, Window: 10 * time.Minute, For: 10 * time.Minute}

// maxGuardEntries bounds the guard's memory under a flood of addresses
// or names; the oldest entries go first.
const maxGuardEntries = 100_000

// loginGuard keeps failure counts and bans. Safe for concurrent use.
type loginGuard struct {
	policy BanPolicy
	now    func() time.Time

	mu    sync.Mutex
	ips   map[netip.Addr]*failures
	users map[string]*failures
}

// failures is a fixed-window count of failed logins.
type failures struct {
	windowStart time.Time
	count       int
	bannedUntil time.Time
}

func newLoginGuard(p BanPolicy) *loginGuard {
	return &loginGuard{
		policy: p,
		now:    time.Now,
		ips:    make(map[netip.Addr]*failures),
		users:  make(map[string]*failures),
	}
}

func (g *loginGuard) enabled() bool { return g.policy.After > 0 }

// ipBanned reports whether ip is banned, and until when.
func (g *loginGuard) ipBanned(ip netip.Addr) (bool, time.Time) {
	if !g.enabled() {
		return false, time.Time{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.ips[ip]
	if f == nil || !g.now().Before(f.bannedUntil) {
		return false, time.Time{}
	}
	return true, f.bannedUntil
}

// userBanned reports whether logins as name are refused.
func (g *loginGuard) userBanned(name string) bool {
	if !g.enabled() {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.users[strings.ToLower(name)]
	return f != nil && g.now().Before(f.bannedUntil)
}

// failed records a failed login and returns the delay to apply before the
// reply (growing with the failures of this IP and user), and whether this
// failure banned the IP.
func (g *loginGuard) failed(ip netip.Addr, name string, base time.Duration) (delay time.Duration, banned bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	fi := record(g, now, g.ips, ip)
	fu := record(g, now, g.users, strings.ToLower(name))
	n := max(fi.count, fu.count)
	// base, 2×base, 4×base, ... capped at 16×base: a guesser slows to a
	// crawl while a user who mistyped waits only a moment.
	delay = base << min(n-1, 4)
	if g.enabled() {
		if fi.count >= g.policy.After && !now.Before(fi.bannedUntil) {
			fi.bannedUntil = now.Add(g.policy.For)
			banned = true
		}
		if fu.count >= 3*g.policy.After && !now.Before(fu.bannedUntil) {
			fu.bannedUntil = now.Add(g.policy.For)
		}
	}
	return delay, banned
}

// succeeded forgets the IP's and user's failures.
func (g *loginGuard) succeeded(ip netip.Addr, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f := g.ips[ip]; f != nil && !g.now().Before(f.bannedUntil) {
		delete(g.ips, ip)
	}
	delete(g.users, strings.ToLower(name))
}

// record returns the key's failure window, counting one more failure.
func record[K comparable](g *loginGuard, now time.Time, m map[K]*failures, k K) *failures {
	f := m[k]
	if f == nil {
		if len(m) >= maxGuardEntries {
			prune(m, now, g.policy)
		}
		f = &failures{windowStart: now}
		m[k] = f
	}
	if now.Sub(f.windowStart) > g.policy.Window {
		f.windowStart, f.count = now, 0
	}
	f.count++
	return f
}

// prune drops entries whose window and ban are over; if none are, it
// drops arbitrary ones (map order) until a tenth of the space is free.
func prune[K comparable](m map[K]*failures, now time.Time, p BanPolicy) {
	for k, f := range m {
		if now.Sub(f.windowStart) > p.Window && !now.Before(f.bannedUntil) {
			delete(m, k)
		}
	}
	for k := range m {
		if len(m) < maxGuardEntries*9/10 {
			break
		}
		delete(m, k)
	}
}
