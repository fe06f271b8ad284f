package server

import (
	"net/netip"

	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// BanPolicy is the login defence: failed logins are counted per client IP
// and per user name; each failure makes the next reply slower, and an IP
// with After failures within Window is refused for For. Only time clears
// an address's failures: a successful login, as any account, does not.
//
// A user name is locked for For, from every address, when it has
// 3×After failures within Window counting at most After from each
// address: a guess spread over at least three addresses. One address
// alone (which its own failures ban) can never lock an account out for
// everyone else. A login as the user clears the user's count.
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
	users map[string]*userFailures

	// Counted for the logs and metrics.
	bans, lockouts atomic.Int64
}

// userFailures is a user name's failures, counted per address.
type userFailures struct {
	failures // count: the sum over addresses, each capped at After
	from     map[netip.Addr]int
}

// maxUserAddrs bounds the addresses remembered per user name; failures
// from further addresses still count, one each.
const maxUserAddrs = 256

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
		users:  make(map[string]*userFailures),
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

// loginFailure is what one failed login led to.
type loginFailure struct {
	delay      time.Duration // to wait before the reply
	ipBanned   bool          // this failure banned the address
	userLocked bool          // this failure locked the user name
	addrs      int           // addresses the user's failures came from
}

// failed records a failed login of name from ip and returns the delay to
// apply before the reply (growing with the failures of this IP and user),
// and the bans it caused.
func (g *loginGuard) failed(ip netip.Addr, name string, base time.Duration) loginFailure {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	fi := record(g, now, g.ips, ip)
	fu := g.recordUser(now, strings.ToLower(name), ip)
	n := max(fi.count, fu.count)
	// base, 2×base, 4×base, ... capped at 16×base: a guesser slows to a
	// crawl while a user who mistyped waits only a moment.
	out := loginFailure{delay: base << min(n-1, 4), addrs: len(fu.from)}
	if g.enabled() {
		if fi.count >= g.policy.After && !now.Before(fi.bannedUntil) {
			fi.bannedUntil = now.Add(g.policy.For)
			out.ipBanned = true
			g.bans.Add(1)
		}
		if fu.count >= 3*g.policy.After && !now.Before(fu.bannedUntil) {
			fu.bannedUntil = now.Add(g.policy.For)
			out.userLocked = true
			g.lockouts.Add(1)
		}
	}
	return out
}

// recordUser counts a failure of name from ip: one more, unless ip has
// already given After of them in this window.
func (g *loginGuard) recordUser(now time.Time, name string, ip netip.Addr) *userFailures {
	f := g.users[name]
	if f == nil {
		if len(g.users) >= maxGuardEntries {
			prune(g.users, now, g.policy)
		}
		f = &userFailures{failures: failures{windowStart: now}}
		g.users[name] = f
	}
	if now.Sub(f.windowStart) > g.policy.Window {
		f.windowStart, f.count, f.from = now, 0, nil
	}
	n, known := f.from[ip]
	switch {
	case g.enabled() && n >= g.policy.After:
		// This address has given all it may toward a lockout.
	case known || len(f.from) < maxUserAddrs:
		if f.from == nil {
			f.from = make(map[netip.Addr]int)
		}
		f.from[ip] = n + 1
		f.count++
	default:
		f.count++
	}
	return f
}

// succeeded records a login of name: the name's failures are forgotten.
// The address's are not: they decay only with the window, or alternating
// guesses with a login to an account of one's own would never be banned.
func (g *loginGuard) succeeded(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f := g.users[strings.ToLower(name)]; f != nil && !g.now().Before(f.bannedUntil) {
		delete(g.users, strings.ToLower(name))
	}
}

// record returns the key's failure window, counting one more failure.
func record(g *loginGuard, now time.Time, m map[netip.Addr]*failures, k netip.Addr) *failures {
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

// windowed is a failure count with a window and a ban: both maps' values.
type windowed interface{ window() *failures }

func (f *failures) window() *failures { return f }

// prune drops entries whose window and ban are over; if none are, it
// drops arbitrary ones (map order) until a tenth of the space is free.
func prune[K comparable, V windowed](m map[K]V, now time.Time, p BanPolicy) {
	for k, v := range m {
		if f := v.window(); now.Sub(f.windowStart) > p.Window && !now.Before(f.bannedUntil) {
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

// dropUnauthenticated closes, with 421, the sessions from ip that have
// not logged in, except the one given: a ban must stop guesses from
// connections opened before it, not only new ones. It returns how many.
func (s *Server) dropUnauthenticated(ip netip.Addr, except *session) int {
	var victims []*session
	s.mu.Lock()
	for sess := range s.sessions {
		if sess != except && sess.remote.Addr() == ip && !sess.loggedIn.Load() {
			victims = append(victims, sess)
		}
	}
	s.mu.Unlock()
	for _, sess := range victims {
		// Each in its own goroutine, bounded by the reply's write
		// timeout: a victim that stopped reading must not hold up the
		// session that banned its address.
		go func() {
			_ = sess.reply(ftp.CodeServiceUnavailable, "Too many failed logins from your address, closing control connection.")
			sess.closeNow()
		}()
	}
	return len(victims)
}
