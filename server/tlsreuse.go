package server

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
)

// TLSReuse is the data-channel binding policy: whether each protected data
// connection must resume the TLS session of its own control connection,
// as vsftpd's require_ssl_reuse and FileZilla Server demand. Without it,
// anyone who wins the race to a passive port can complete a TLS handshake
// and steal or inject a transfer; with it, only a client that holds the
// control connection's session can.
type TLSReuse int

const (
	// TLSReuseAllow accepts a data connection that does not resume the
	// session, and logs it. The default: Python's ftplib, among others,
	// never resumes.
	TLSReuseAllow TLSReuse = iota
	// TLSReuseOff does not check at all.
	TLSReuseOff
	// TLSReuseEnforce refuses such a data connection (522).
	TLSReuseEnforce
)

// errTLSNoReuse: the data connection's TLS session is not the control
// connection's, and the policy is enforce.
var errTLSNoReuse = errors.New("data connection TLS session does not resume the control connection's session")

// tlsBindingTag prefixes the Extra entry that ties a session ticket to
// one control connection, so that other users of Extra can tell it apart.
const tlsBindingTag = "ferry-session/1:"

// newTLSBinding returns the Extra entry for a new session.
func newTLSBinding() []byte {
	b := make([]byte, len(tlsBindingTag)+16)
	copy(b, tlsBindingTag)
	_, _ = rand.Read(b[len(tlsBindingTag):])
	return b
}

// controlTLSConfig is the TLS config of this session's control connection:
// every ticket it issues carries the session's binding.
func (s *session) controlTLSConfig() *tls.Config {
	base := s.srv.cfg.TLS
	c := base.Clone()
	c.WrapSession = s.wrapSession
	return c
}

// wrapSession adds the session's binding to a ticket; the server's base
// config encrypts it, so every clone shares the ticket keys.
func (s *session) wrapSession(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	ss.Extra = append(ss.Extra, s.tlsBinding)
	return s.srv.cfg.TLS.EncryptTicket(cs, ss)
}

// dataTLSConfig is the TLS config of one data connection. *bound is set
// when the client resumed a session bearing this session's binding.
// Under enforce, a ticket from any other session is not resumed, so the
// handshake ends without resumption and the caller refuses it.
func (s *session) dataTLSConfig(bound *bool) *tls.Config {
	base := s.srv.cfg.TLS
	c := base.Clone()
	c.WrapSession = s.wrapSession
	enforce := s.srv.cfg.TLSReuse == TLSReuseEnforce
	c.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := base.DecryptTicket(identity, cs)
		if err != nil || ss == nil {
			return ss, err
		}
		for _, e := range ss.Extra {
			if bytes.Equal(e, s.tlsBinding) {
				*bound = true
				return ss, nil
			}
		}
		if enforce {
			return nil, nil // a full handshake instead, which is then refused
		}
		return ss, nil
	}
	return c
}

// checkTLSReuse applies the policy to a completed data handshake.
func (s *session) checkTLSReuse(tc *tls.Conn, bound bool) error {
	if s.srv.cfg.TLSReuse == TLSReuseOff {
		return nil
	}
	if tc.ConnectionState().DidResume && bound {
		return nil
	}
	if s.srv.cfg.TLSReuse == TLSReuseEnforce {
		return errTLSNoReuse
	}
	s.log.Info("data connection did not resume the control connection's TLS session (allowed by policy)")
	return nil
}
