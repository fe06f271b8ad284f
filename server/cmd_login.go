package server

import (
	"context"
	"errors"
	"fmt"
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
		return reply(ftp.CodeNeedPassword, "Anonymous login ok, send your email address as password."), nil
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
	var u *User
	var err error
	if s.srv.guard.userBanned(name) {
		// Refused like a wrong password, so the ban does not confirm
		// that the name exists.
		err = fmt.Errorf("user %q is banned after repeated failures: %w", name, ErrBadLogin)
	} else {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		u, err = s.srv.cfg.Auth.Authenticate(ctx, LoginRequest{
			User: name, Password: arg, Remote: ip, TLS: s.tlsControl,
		})
		cancel()
	}
	if err != nil || u == nil {
		s.loginFailures++
		if err != nil && !errors.Is(err, ErrBadLogin) {
			s.log.Error("authentication backend failed", "user", name, "err", err)
		}
		delay, banned := s.srv.guard.failed(ip, name, s.srv.cfg.FailedLoginDelay)
		s.log.Info("login failed", "user", name, "failures", s.loginFailures)
		if banned {
			s.log.Warn("address banned after repeated login failures", "ip", ip.String(), "for", s.srv.cfg.Ban.For)
		}
		// The delay slows guessing; it runs before the reply so a client
		// cannot pipeline around it.
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, errQuit
			}
		}
		if max := s.srv.cfg.MaxLoginAttempts; banned || max > 0 && s.loginFailures >= max {
			s.reply(ftp.CodeNotLoggedIn, "Login incorrect.")
			s.reply(ftp.CodeServiceUnavailable, "Too many failed logins, closing control connection.")
			return nil, errQuit
		}
		return reply(ftp.CodeNotLoggedIn, "Login incorrect."), nil
	}
	s.srv.guard.succeeded(ip, name)
	st, ok := s.srv.userLogin(u)
	if !ok {
		s.log.Info("login refused: too many sessions for user", "user", u.Name)
		s.reply(ftp.CodeServiceUnavailable, "Too many sessions for this user, closing control connection.")
		return nil, errQuit
	}
	s.user, s.ustate = u, st
	s.cwd = "/"
	s.setLogger(s.log.With("user", u.Name))
	s.log.Info("login", "anonymous", u.Anonymous, "tls", s.tlsControl)
	if u.Anonymous {
		return reply(ftp.CodeLoggedIn, "Anonymous access granted, restrictions apply."), nil
	}
	return reply(ftp.CodeLoggedIn, "User "+sanitize(u.Name)+" logged in."), nil
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
