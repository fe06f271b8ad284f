package server

import (
	"bufio"
	"crypto/tls"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// cmdAUTH upgrades the control connection to TLS (RFC 4217 section 4).
// The 234 reply goes out in clear text; the next byte must be the
// client's handshake.
func (s *session) cmdAUTH(arg string) error {
	if s.srv.cfg.TLS == nil {
		return reply(ftp.CodeNotImplemented, "TLS is not configured on this server.")
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "TLS", "TLS-C", "SSL", "TLS-P":
	default:
		return reply(ftp.CodeNotImplParam, "Only AUTH TLS is supported.")
	}
	if s.tlsControl {
		return reply(ftp.CodeBadSequence, "TLS is already in force.")
	}
	if s.br.Buffered() > 0 {
		// Bytes after AUTH TLS that are not a handshake would be
		// read as plain text by an attacker in the middle (command
		// injection, CVE-2011-0411 class): refuse.
		return reply(ftp.CodeBadSequence, "Data after AUTH TLS; refusing.")
	}
	s.reply(ftp.CodeAuthOK, "Proceed with negotiation.")
	tc := tls.Server(s.conn, s.controlTLSConfig())
	_ = tc.SetDeadline(time.Now().Add(s.srv.cfg.DataConnectTimeout))
	if err := tc.HandshakeContext(s.ctx); err != nil {
		s.log.Info("TLS handshake failed", "err", err)
		return errQuit
	}
	_ = tc.SetDeadline(time.Time{})
	s.wmu.Lock()
	s.conn = tc
	s.wmu.Unlock()
	s.br = bufio.NewReaderSize(tc, 512)
	s.tlsControl = true
	// A new security exchange resets PBSZ and PROT (RFC 4217 section 9).
	s.pbsz, s.protP = false, false
	s.log.Debug("control connection upgraded to TLS", "version", tls.VersionName(tc.ConnectionState().Version))
	return nil
}

func (s *session) cmdPBSZ(arg string) error {
	if !s.tlsControl {
		return reply(ftp.CodeBadSequence, "PBSZ needs AUTH TLS first.")
	}
	s.pbsz = true
	// Stream-oriented TLS has no buffer size: the only valid value is 0
	// (RFC 4217 section 9).
	if strings.TrimSpace(arg) != "0" {
		return reply(ftp.CodeOK, "PBSZ=0")
	}
	return reply(ftp.CodeOK, "PBSZ=0")
}

func (s *session) cmdPROT(arg string) error {
	if !s.tlsControl {
		return reply(ftp.CodeBadSequence, "PROT needs AUTH TLS first.")
	}
	if !s.pbsz {
		return reply(ftp.CodeBadSequence, "PROT needs PBSZ first.")
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "P":
		s.protP = true
		return reply(ftp.CodeOK, "Protection level set to Private.")
	case "C":
		if s.srv.cfg.RequireTLSData {
			return reply(ftp.CodeProtectionDenied, "Policy requires PROT P.")
		}
		s.protP = false
		return reply(ftp.CodeOK, "Protection level set to Clear.")
	case "S", "E":
		return reply(536, "Protection level not supported.")
	}
	return reply(ftp.CodeNotImplParam, "Unknown protection level.")
}

// cmdCCC is refused: dropping TLS on the control connection would expose
// later commands, and NAT helpers that need it are better served by EPSV.
func (s *session) cmdCCC(string) error {
	return reply(533, "CCC refused: the control connection stays protected.")
}
