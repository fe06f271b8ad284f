package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// cmdAUTH upgrades the control connection to TLS (RFC 4217 section 4).
// The 234 reply goes out in clear text; the next byte must be the
// client's handshake.
func (s *session) cmdAUTH(ctx context.Context, arg string) (*ftp.Reply, error) {
	if s.srv.cfg.TLS == nil {
		return reply(ftp.CodeNotImplemented, "TLS is not configured on this server."), nil
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "TLS", "TLS-C", "SSL", "TLS-P":
	default:
		return reply(ftp.CodeNotImplParam, "Only AUTH TLS is supported."), nil
	}
	if s.tlsControl {
		return reply(ftp.CodeBadSequence, "TLS is already in force."), nil
	}
	if s.br.Buffered() > 0 {
		// Bytes after AUTH TLS that are not a handshake would be
		// read as plain text by an attacker in the middle (command
		// injection, CVE-2011-0411 class): refuse.
		return reply(ftp.CodeBadSequence, "Data after AUTH TLS; refusing."), nil
	}
	s.reply(ftp.CodeAuthOK, "Proceed with negotiation.")
	tc := tls.Server(s.conn, s.tls.controlConfig())
	// The handshake is part of logging in: before login it gets what
	// is left of the login timeout, after it a login timeout of its own.
	d := s.loginDeadline
	if s.user != nil {
		d = time.Now().Add(s.srv.cfg.LoginTimeout)
	}
	_ = tc.SetDeadline(d)
	if err := tc.HandshakeContext(ctx); err != nil {
		s.log.Info("TLS handshake failed", "err", err)
		return nil, errQuit
	}
	_ = tc.SetDeadline(time.Time{})
	s.wmu.Lock()
	s.conn = tc
	s.wmu.Unlock()
	s.br = bufio.NewReaderSize(tc, 512)
	s.tlsControl = true
	// A new security exchange resets PBSZ and PROT (RFC 4217 section 9).
	s.pbsz = false
	s.data.setProtection(false)
	s.log.Debug("control connection upgraded to TLS", "version", tls.VersionName(tc.ConnectionState().Version))
	return nil, nil
}

func (s *session) cmdPBSZ(_ context.Context, arg string) (*ftp.Reply, error) {
	if _, err := strconv.ParseUint(strings.TrimSpace(arg), 10, 32); err != nil {
		return reply(ftp.CodeBadArguments, "PBSZ needs a decimal buffer size."), nil
	}
	if !s.tlsControl {
		return reply(ftp.CodeBadSequence, "PBSZ needs AUTH TLS first."), nil
	}
	s.pbsz = true
	// Stream-oriented TLS has no buffer size: any size asked for is
	// answered with the only valid one, 0 (RFC 4217 section 9).
	return reply(ftp.CodeOK, "PBSZ=0"), nil
}

func (s *session) cmdPROT(ctx context.Context, arg string) (*ftp.Reply, error) {
	if !s.tlsControl {
		return reply(ftp.CodeBadSequence, "PROT needs AUTH TLS first."), nil
	}
	if !s.pbsz {
		return reply(ftp.CodeBadSequence, "PROT needs PBSZ first."), nil
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "P":
		s.data.setProtection(true)
		return reply(ftp.CodeOK, "Protection level set to Private."), nil
	case "C":
		if s.srv.cfg.RequireTLSData {
			return reply(ftp.CodeProtectionDenied, "Policy requires PROT P."), nil
		}
		s.data.setProtection(false)
		return reply(ftp.CodeOK, "Protection level set to Clear."), nil
	case "S", "E":
		return reply(536, "Protection level not supported."), nil
	}
	return reply(ftp.CodeNotImplParam, "Unknown protection level."), nil
}

// cmdCCC is refused: dropping TLS on the control connection would expose
// later commands, and NAT helpers that need it are better served by EPSV.
func (s *session) cmdCCC(ctx context.Context, _ string) (*ftp.Reply, error) {
	return reply(533, "CCC refused: the control connection stays protected."), nil
}
