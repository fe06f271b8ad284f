package server

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

func isAnonymousName(name string) bool {
	return strings.EqualFold(name, "anonymous") || strings.EqualFold(name, "ftp")
}

func (s *session) cmdUSER(arg string) error {
	if s.srv.cfg.RequireTLSLogin && !s.tlsControl {
		return reply(ftp.CodeProtectionDenied, "Policy requires AUTH TLS before login.")
	}
	if s.user != nil {
		// Changing user needs REIN first, as in vsftpd: a half-switched
		// session must never keep the old user's rights.
		return reply(ftp.CodeBadSequence, "Already logged in; use REIN to change user.")
	}
	s.pendingUser = arg
	if isAnonymousName(arg) {
		return reply(ftp.CodeNeedPassword, "Anonymous login ok, send your email address as password.")
	}
	return reply(ftp.CodeNeedPassword, "Password required for "+sanitize(arg)+".")
}

func (s *session) cmdPASS(arg string) error {
	if s.user != nil {
		return reply(ftp.CodeNotImplSuperfluous, "Already logged in.")
	}
	if s.pendingUser == "" {
		return reply(ftp.CodeBadSequence, "Login with USER first.")
	}
	name := s.pendingUser
	s.pendingUser = ""
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	u, err := s.srv.cfg.Auth.Authenticate(ctx, LoginRequest{
		User: name, Password: arg, Remote: s.remote.Addr(), TLS: s.tlsControl,
	})
	if err != nil || u == nil {
		s.loginFailures++
		if err != nil && !errors.Is(err, ErrBadLogin) {
			s.log.Error("authentication backend failed", "user", name, "err", err)
		}
		s.log.Info("login failed", "user", name, "failures", s.loginFailures)
		// The delay slows guessing; it runs before the reply so a client
		// cannot pipeline around it.
		if d := s.srv.cfg.FailedLoginDelay; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return errQuit
			}
		}
		if max := s.srv.cfg.MaxLoginAttempts; max > 0 && s.loginFailures >= max {
			s.reply(ftp.CodeNotLoggedIn, "Login incorrect.")
			s.reply(ftp.CodeServiceUnavailable, "Too many failed logins, closing control connection.")
			return errQuit
		}
		return reply(ftp.CodeNotLoggedIn, "Login incorrect.")
	}
	s.user = u
	s.cwd = "/"
	s.log = s.log.With("user", u.Name)
	s.log.Info("login", "anonymous", u.Anonymous, "tls", s.tlsControl)
	if u.Anonymous {
		return reply(ftp.CodeLoggedIn, "Anonymous access granted, restrictions apply.")
	}
	return reply(ftp.CodeLoggedIn, "User "+sanitize(u.Name)+" logged in.")
}

// cmdREIN resets the session to just after the greeting (RFC 959): the
// user is logged out and transfer parameters return to their defaults.
// TLS on the control connection stays, as RFC 4217 section 11 allows.
func (s *session) cmdREIN(string) error {
	s.waitTransfer()
	s.closePassive()
	if s.user != nil {
		s.log.Info("logout (REIN)")
	}
	s.user = nil
	s.pendingUser = ""
	s.cwd = "/"
	s.binary = true
	s.restOffset = 0
	s.rangeEnd = 0
	s.renameFrom = ""
	s.active = netip.AddrPort{}
	s.epsvAll = false
	s.loginDeadline = time.Now().Add(s.srv.cfg.LoginTimeout)
	return reply(ftp.CodeServiceReady, s.srv.cfg.Banner)
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
