package server

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

func isAnonymousName(name string) bool {
	return strings.EqualFold(name, "anonymous") || strings.EqualFold(name, "ftp")
}

func (s *session) cmdUSER(ctx context.Context, arg string) (*ftp.Reply, error) {
	if s.srv.cfg.RequireTLSLogin && !s.tlsControl {
		return reply(ftp.CodeProtectionDenied, "Policy requires AUTH TLS before login."), nil
	}
	if s.user != nil {
		// Changing user needs REIN first, as in vsftpd: a half-switched
		// session must never keep the old user's rights.
		return reply(ftp.CodeBadSequence, "Already logged in; use REIN to change user."), nil
	}
	s.pendingUser = arg
	if isAnonymousName(arg) {
		// Whether anonymous logins are allowed is the Authenticator's to
		// say at PASS; this reply promises nothing.
		return reply(ftp.CodeNeedPassword, "Send your email address as password for anonymous access."), nil
	}
	return reply(ftp.CodeNeedPassword, "Password required for "+sanitize(arg)+"."), nil
}

func (s *session) cmdPASS(ctx context.Context, arg string) (*ftp.Reply, error) {
	if s.user != nil {
		return reply(ftp.CodeNotImplSuperfluous, "Already logged in."), nil
	}
	if s.pendingUser == "" {
		return reply(ftp.CodeBadSequence, "Login with USER first."), nil
	}
	name := s.pendingUser
	s.pendingUser = ""
	ip := s.remote.Addr()
	if banned, _ := s.srv.guard.ipBanned(ip); banned {
		// The address was banned after this session opened (by its own
		// or another session's failures): no more guesses from it.
		s.logLoginFailure(name, "address banned")
		s.reply(ftp.CodeNotLoggedIn, "Login incorrect.")
		s.reply(ftp.CodeServiceUnavailable, "Too many failed logins from your address, closing control connection.")
		return nil, errQuit
	}
	// Every attempt costs one full verification, a locked name's too
	// (Refuse keeps a cache of verified passwords out of the way), so
	// that the time of the reply tells nothing about the account; the
	// lock gets the reply of a wrong password, so it does not confirm
	// that the name exists, nor that the password was right.
	locked := s.srv.guard.userBanned(name)
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	u, err := s.srv.cfg.Auth.Authenticate(actx, LoginRequest{
		User: name, Password: arg, Remote: ip, TLS: s.tlsControl, Refuse: locked,
	})
	cancel()
	reason := "bad credentials"
	switch {
	case locked:
		u, err, reason = nil, ErrBadLogin, "user locked"
	case err != nil && !errors.Is(err, ErrBadLogin):
		s.log.Error("authentication backend failed", "user", name, "err", err)
		reason = "backend error"
	}
	if err != nil || u == nil {
		return s.loginFailed(ctx, name, reason)
	}
	s.srv.guard.succeeded(name)
	st, ok := s.srv.userLogin(u)
	if !ok {
		s.logLoginFailure(u.Name, "too many sessions")
		s.reply(ftp.CodeServiceUnavailable, "Too many sessions for this user, closing control connection.")
		return nil, errQuit
	}
	s.user, s.ustate = u, st
	s.loggedIn.Store(true)
	s.cwd = "/"
	s.setLogger(s.log.With("user", u.Name))
	s.log.Info("login", "anonymous", u.Anonymous, "tls", s.tlsControl)
	if u.Anonymous {
		return reply(ftp.CodeLoggedIn, "Anonymous access granted, restrictions apply."), nil
	}
	return reply(ftp.CodeLoggedIn, "User "+sanitize(u.Name)+" logged in."), nil
}

// loginFailed answers a failed PASS: it counts the failure, waits the
// growing delay, and ends the session when this failure banned the
// address or used up the session's attempts.
func (s *session) loginFailed(ctx context.Context, name, reason string) (*ftp.Reply, error) {
	s.loginFailures++
	ip := s.remote.Addr()
	out := s.srv.guard.failed(ip, name, s.srv.cfg.FailedLoginDelay)
	s.logLoginFailure(name, reason)
	if out.ipBanned {
		s.log.Warn("address banned after repeated login failures", "ip", ip.String(), "for", s.srv.cfg.Ban.For)
		// Its other sessions that have not logged in go too: they could
		// go on guessing past the ban.
		if n := s.srv.dropUnauthenticated(ip, s); n > 0 {
			s.log.Info("closed the banned address's other sessions", "ip", ip.String(), "sessions", n)
		}
	}
	if out.userLocked {
		s.log.Warn("user locked after failed logins from several addresses", "user", name,
			"addresses", out.addrs, "for", s.srv.cfg.Ban.For)
	}
	// The delay slows guessing; it runs before the reply so a client
	// cannot pipeline around it.
	if out.delay > 0 {
		t := time.NewTimer(out.delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, errQuit
		}
	}
	if max := s.srv.cfg.MaxLoginAttempts; out.ipBanned || max > 0 && s.loginFailures >= max {
		s.reply(ftp.CodeNotLoggedIn, "Login incorrect.")
		s.reply(ftp.CodeServiceUnavailable, "Too many failed logins, closing control connection.")
		return nil, errQuit
	}
	return reply(ftp.CodeNotLoggedIn, "Login incorrect."), nil
}

// logLoginFailure writes the one line every failed login gets, at info:
// msg "login failed" with the client's ip, the user name and a reason
// from a fixed set (bad credentials, user locked, address banned,
// backend error, too many sessions). The README gives a fail2ban filter
// for it; keep its shape.
func (s *session) logLoginFailure(name, reason string) {
	s.log.Info("login failed", "ip", s.remote.Addr().String(), "user", name, "reason", reason,
		"failures", s.loginFailures)
}

// cmdREIN resets the session to just after the greeting (RFC 959): the
// user is logged out and transfer parameters return to their defaults.
// TLS on the control connection stays, as RFC 4217 section 11 allows.
func (s *session) cmdREIN(ctx context.Context, _ string) (*ftp.Reply, error) {
	s.data.reinitialize()
	if s.user != nil {
		s.log.Info("logout (REIN)")
	}
	s.logout()
	s.pendingUser = ""
	s.cwd = "/"
	s.binary = true
	s.hashAlgo = "SHA-256"
	s.mlstFacts = ftp.AllFacts
	s.restOffset = 0
	s.allocate = 0
	s.rangeEnd = 0
	s.renameFrom = ""
	s.loginDeadline = time.Now().Add(s.srv.cfg.LoginTimeout)
	return reply(ftp.CodeServiceReady, s.srv.cfg.Banner), nil
}

// logout forgets the logged-in user, if any.
func (s *session) logout() {
	if s.user != nil {
		s.srv.userLogout(s.user.Name)
	}
	s.user, s.ustate = nil, nil
	s.loggedIn.Store(false)
}

// sanitize keeps user-supplied text in a reply to one printable line.
func sanitize(v string) string {
	if len(v) > 64 {
		v = v[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, v)
}
