package server

import (
	"context"
	"net"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// minRateBurst is the smallest token bucket of a byte-rate limiter: one
// buffer of the generic copy path must fit in it.
const minRateBurst = copyBufSize

// newByteLimiter returns a limiter of bps bytes per second, or nil for no
// limit. The bucket holds a quarter second of traffic (at least one copy
// buffer) so that transfers are smooth rather than bursty.
func newByteLimiter(bps int64) *rate.Limiter {
	if bps <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bps), int(max(bps/4, minRateBurst)))
}

// userState is what the server keeps per logged-in user name: the number
// of sessions and the rate limits and quota all of them share.
type userState struct {
	sessions int                        // guarded by Server.mu
	limits   atomic.Pointer[userRates]  // read by transfers without a lock
	quota    atomic.Pointer[quotaUsage] // nil: no quota; read without a lock
}

// userRates is one user's shared byte-rate limiters; nil means no cap.
type userRates struct {
	down, up       *rate.Limiter
	downBPS, upBPS int64
}

// userLogin counts a session for u and returns the user's shared state,
// or false when MaxSessionsPerUser is reached.
func (s *Server) userLogin(u *User) (*userState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.users[u.Name]
	if st == nil {
		st = &userState{}
		s.users[u.Name] = st
	}
	if max := s.cfg.MaxSessionsPerUser; max > 0 && st.sessions >= max {
		if st.sessions == 0 {
			delete(s.users, u.Name)
		}
		return nil, false
	}
	// A reloaded users file may change the caps; the newest login's
	// values apply to every session of the user from then on. Running
	// transfers keep the limiter they started with.
	if cur := st.limits.Load(); cur == nil || cur.downBPS != u.DownloadRate || cur.upBPS != u.UploadRate {
		next := &userRates{downBPS: u.DownloadRate, upBPS: u.UploadRate}
		if cur != nil && cur.downBPS == u.DownloadRate {
			next.down = cur.down
		} else {
			next.down = newByteLimiter(u.DownloadRate)
		}
		if cur != nil && cur.upBPS == u.UploadRate {
			next.up = cur.up
		} else {
			next.up = newByteLimiter(u.UploadRate)
		}
		st.limits.Store(next)
	}
	if !u.Quota.enabled() {
		st.quota.Store(nil)
	} else if q := st.quota.Load(); q == nil || q.limit != u.Quota {
		st.quota.Store(&quotaUsage{limit: u.Quota})
	}
	st.sessions++
	return st, true
}

// userLogout undoes userLogin.
func (s *Server) userLogout(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.users[name]
	if st == nil {
		return
	}
	if st.sessions--; st.sessions <= 0 {
		delete(s.users, name)
	}
}

// limitConn wraps a data connection in the byte-rate limits that apply
// to a transfer in one direction. With no limit it returns conn itself,
// so the kernel copy paths (sendfile, splice) stay available.
func (s *session) limitConn(ctx context.Context, conn net.Conn, upload bool) net.Conn {
	var ls []*rate.Limiter
	for _, l := range s.rateLimiters(upload) {
		if l != nil {
			ls = append(ls, l)
		}
	}
	if len(ls) == 0 {
		return conn
	}
	return &limitedConn{Conn: conn, ctx: ctx, limiters: ls}
}

// rateLimiters returns the global and the user's limiter for a direction;
// either may be nil (no limit).
func (s *session) rateLimiters(upload bool) [2]*rate.Limiter {
	global, user := s.srv.down, (*rate.Limiter)(nil)
	if upload {
		global = s.srv.up
	}
	if s.ustate != nil {
		if r := s.ustate.limits.Load(); r != nil {
			user = r.down
			if upload {
				user = r.up
			}
		}
	}
	return [2]*rate.Limiter{global, user}
}

// rateLimited reports whether transfers in a direction are paced.
func (s *session) rateLimited(upload bool) bool {
	ls := s.rateLimiters(upload)
	return ls[0] != nil || ls[1] != nil
}

// limitedConn paces reads and writes through token buckets.
type limitedConn struct {
	net.Conn
	ctx      context.Context
	limiters []*rate.Limiter
}

func (c *limitedConn) chunk() int {
	n := minRateBurst
	for _, l := range c.limiters {
		n = min(n, l.Burst())
	}
	return n
}

func (c *limitedConn) wait(n int) error {
	for _, l := range c.limiters {
		if err := l.WaitN(c.ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func (c *limitedConn) Read(p []byte) (int, error) {
	if len(p) > c.chunk() {
		p = p[:c.chunk()]
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if werr := c.wait(n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

func (c *limitedConn) Write(p []byte) (int, error) {
	var total int
	for len(p) > 0 {
		n := min(len(p), c.chunk())
		if err := c.wait(n); err != nil {
			return total, err
		}
		w, err := c.Conn.Write(p[:n])
		total += w
		if err != nil {
			return total, err
		}
		p = p[n:]
	}
	return total, nil
}
