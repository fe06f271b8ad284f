package server

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"log/slog"
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

// tlsBinder ties the TLS sessions of one control connection to its data
// connections: every ticket issued on either carries the session's
// binding, and a data handshake is checked against the policy. The
// session and its data channel share one.
type tlsBinder struct {
	base    *tls.Config // the server's: its ticket keys encrypt every ticket
	policy  TLSReuse
	binding []byte // Extra entry tying this session's tickets to it
}

func newTLSBinder(base *tls.Config, policy TLSReuse) *tlsBinder {
	return &tlsBinder{base: base, policy: policy, binding: newTLSBinding()}
}

// controlConfig is the TLS config of the control connection: every
// ticket it issues carries the session's binding.
func (b *tlsBinder) controlConfig() *tls.Config {
	c := b.base.Clone()
	c.WrapSession = b.wrapSession
	return c
}

// wrapSession adds the session's binding to a ticket; the server's base
// config encrypts it, so every clone shares the ticket keys.
func (b *tlsBinder) wrapSession(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	ss.Extra = append(ss.Extra, b.binding)
	return b.base.EncryptTicket(cs, ss)
}

// dataConfig is the TLS config of one data connection. *bound is set
// when the client resumed a session bearing this session's binding.
// Under enforce, a ticket from any other session is not resumed, so the
// handshake ends without resumption and check refuses it.
func (b *tlsBinder) dataConfig(bound *bool) *tls.Config {
	c := b.base.Clone()
	c.WrapSession = b.wrapSession
	enforce := b.policy == TLSReuseEnforce
	c.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := b.base.DecryptTicket(identity, cs)
		if err != nil || ss == nil {
			return ss, err
		}
		for _, e := range ss.Extra {
			if bytes.Equal(e, b.binding) {
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

// check applies the policy to a completed data handshake.
func (b *tlsBinder) check(tc *tls.Conn, bound bool, log *slog.Logger) error {
	if b.policy == TLSReuseOff {
		return nil
	}
	if tc.ConnectionState().DidResume && bound {
		return nil
	}
	if b.policy == TLSReuseEnforce {
		return errTLSNoReuse
	}
	log.Info("data connection did not resume the control connection's TLS session (allowed by policy)")
	return nil
}
