package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/ferry-ftp/ferry/ftp"
)

// dataSetup is what PASV/EPSV/PORT/EPRT prepared for the next transfer.
// The transfer command takes it from the session, so a transfer goroutine
// never touches session fields.
type dataSetup struct {
	pasv   *passiveListener
	active netip.AddrPort
	cmd    string // PASV, EPSV, PORT or EPRT: for logs and doctor
	// ready is a data connection already accepted and announced with 150
	// by the session goroutine (tryInlineRETR) for the transfer to finish.
	ready net.Conn
}

func (s *session) closePassive() {
	if s.pasv != nil {
		_ = s.pasv.Close()
		s.pasv = nil
	}
}

// takeData hands the prepared data connection to a transfer; each
// PASV/PORT serves one transfer (RFC 959 3.2).
func (s *session) takeData() (dataSetup, error) {
	d := dataSetup{pasv: s.pasv, active: s.active, cmd: s.dataCmd}
	s.pasv, s.active, s.dataCmd = nil, netip.AddrPort{}, ""
	if d.pasv == nil && !d.active.IsValid() {
		return d, reply(ftp.CodeCantOpenData, "Use PORT, EPRT, PASV or EPSV first.")
	}
	if s.srv.cfg.RequireTLSData && !s.protP {
		d.close()
		return d, reply(ftp.CodeProtectionDenied, "Policy requires PROT P for data connections.")
	}
	return d, nil
}

func (d dataSetup) close() {
	if d.pasv != nil {
		_ = d.pasv.Close()
	}
}

// connectData opens the data connection set up by d: it accepts the
// client's connection on the passive listener, or connects to the active
// target. Runs in the transfer goroutine. TLS comes later (protectData),
// after the 150 reply: clients such as lftp start the data handshake only
// once they have read it.
func (s *session) connectData(ctx context.Context, d dataSetup) (net.Conn, error) {
	if d.ready != nil {
		return d.ready, nil
	}
	cfg := &s.srv.cfg
	var c net.Conn
	var err error
	if d.pasv != nil {
		s.watchStrangers(d)
		c, err = d.pasv.accept(ctx, s.remote.Addr(), cfg.PassiveAnyPeer, cfg.DataConnectTimeout)
		_ = d.pasv.Close()
	} else {
		var from uint16
		if cfg.ActiveFromPort20 && s.local.Port() > 1 {
			from = s.local.Port() - 1
		}
		var fellBack bool
		c, fellBack, err = dialActive(ctx, s.local.Addr(), d.active, from, cfg.DataConnectTimeout)
		if fellBack && s.srv.port20Warned.CompareAndSwap(false, true) {
			s.srv.log.Warn("cannot bind the active-mode source port; using ephemeral source ports", "port", from)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s data connection: %w", d.cmd, err)
	}
	return c, nil
}

// watchStrangers logs each connection the passive listener of d drops
// because it came from an address other than the client's: port theft
// or a misrouted client. The listener keeps waiting for the real client.
func (s *session) watchStrangers(d dataSetup) {
	d.pasv.onStranger = func(from netip.AddrPort) {
		s.log.Warn("dropped data connection from a foreign address", "from", from.String(), "cmd", d.cmd)
	}
}

// protectData runs the server side of the data connection's TLS
// handshake (PROT P) and applies the session-reuse policy. The returned
// batchConn, beneath the TLS connection, is for a download to start
// gathering records into large writes (and to stop before closing).
func (s *session) protectData(ctx context.Context, c net.Conn, cmd string) (*tls.Conn, *batchConn, error) {
	var bound bool
	bc := &batchConn{Conn: c}
	tc := tls.Server(bc, s.dataTLSConfig(&bound))
	hctx, cancel := context.WithTimeout(ctx, s.srv.cfg.DataConnectTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = c.Close()
		return nil, nil, fmt.Errorf("%s data connection TLS handshake: %w", cmd, err)
	}
	if err := s.checkTLSReuse(tc, bound); err != nil {
		_ = tc.Close()
		return nil, nil, err
	}
	return tc, bc, nil
}

// openPassiveListener opens the listener of a PASV or EPSV, replacing any
// earlier one, and turns its failures into the 425 the client gets.
func (s *session) openPassiveListener() (*passiveListener, error) {
	s.closePassive()
	s.active, s.dataCmd = netip.AddrPort{}, ""
	l, err := openPassive(s.srv.ports, s.local.Addr())
	if err != nil {
		if errors.Is(err, errPortsExhausted) {
			s.log.Warn("passive port range exhausted; refusing data connection",
				"range", fmt.Sprintf("%d-%d", s.srv.cfg.PassivePorts.Min, s.srv.cfg.PassivePorts.Max))
			return nil, reply(ftp.CodeCantOpenData, "No passive port available, try again later.")
		}
		s.log.Error("passive listen failed", "err", err)
		return nil, reply(ftp.CodeCantOpenData, "Cannot open passive connection.")
	}
	return l, nil
}

func (s *session) cmdPASV(string) error {
	if s.epsvAll {
		return reply(ftp.CodeBadSequence, "PASV not allowed after EPSV ALL.")
	}
	if !s.local.Addr().Is4() {
		return reply(ftp.CodeNetworkProtocol, "PASV is IPv4 only; use EPSV on an IPv6 connection.")
	}
	adv, err := s.srv.cfg.Advertise.Advertise(s.ctx, s.local.Addr(), s.remote.Addr())
	if err != nil || !adv.Unmap().Is4() {
		s.log.Error("no IPv4 address to advertise for PASV", "err", err, "addr", adv.String())
		return reply(ftp.CodeCantOpenData, "Cannot determine the passive address; use EPSV.")
	}
	l, err := s.openPassiveListener()
	if err != nil {
		return err
	}
	port := s.srv.cfg.PassivePortMap.Map(l.Port())
	hp, _ := ftp.FormatHostPort(netip.AddrPortFrom(adv.Unmap(), port))
	s.pasv, s.dataCmd = l, "PASV"
	s.log.Debug("passive listener", "cmd", "PASV", "local_port", l.Port(), "advertised", hp)
	return reply(ftp.CodePassive, "Entering Passive Mode ("+hp+").")
}

func (s *session) cmdEPSV(arg string) error {
	a, err := ftp.ParseEPSVArg(arg)
	if err != nil {
		if errors.Is(err, ftp.ErrBadProtocol) {
			return reply(ftp.CodeNetworkProtocol, "Network protocol not supported, use ("+s.protoNumber()+")")
		}
		return reply(ftp.CodeBadArguments, "Usage: EPSV [1|2|ALL]")
	}
	switch a {
	case ftp.EPSVAll:
		s.epsvAll = true
		return reply(ftp.CodeOK, "EPSV ALL ok; only EPSV will be accepted from now on.")
	case ftp.EPSVIPv4, ftp.EPSVIPv6:
		// The listener shares the control connection's address, so only
		// that protocol can be offered (RFC 2428 section 3).
		if (a == ftp.EPSVIPv4) != s.local.Addr().Is4() {
			return reply(ftp.CodeNetworkProtocol, "Network protocol not supported, use ("+s.protoNumber()+")")
		}
	}
	l, err := s.openPassiveListener()
	if err != nil {
		return err
	}
	port := s.srv.cfg.PassivePortMap.Map(l.Port())
	s.pasv, s.dataCmd = l, "EPSV"
	s.log.Debug("passive listener", "cmd", "EPSV", "local_port", l.Port(), "advertised_port", port)
	return reply(ftp.CodeExtendedPassive, ftp.FormatEPSVReply(port))
}

// protoNumber is the RFC 2428 protocol number of the control connection.
func (s *session) protoNumber() string {
	if s.local.Addr().Is4() {
		return "1"
	}
	return "2"
}

func (s *session) cmdPORT(arg string) error {
	target, err := ftp.ParseHostPort(arg)
	if err != nil {
		return reply(ftp.CodeBadArguments, "Illegal PORT command.")
	}
	return s.setActive("PORT", target)
}

func (s *session) cmdEPRT(arg string) error {
	target, err := ftp.ParseEPRT(arg)
	if err != nil {
		if errors.Is(err, ftp.ErrBadProtocol) {
			return reply(ftp.CodeNetworkProtocol, "Network protocol not supported, use (1,2)")
		}
		return reply(ftp.CodeBadArguments, "Illegal EPRT command.")
	}
	return s.setActive("EPRT", target)
}

func (s *session) setActive(cmd string, target netip.AddrPort) error {
	if s.epsvAll {
		return reply(ftp.CodeBadSequence, cmd+" not allowed after EPSV ALL.")
	}
	if s.srv.cfg.DisableActive {
		return reply(ftp.CodeNotImplemented, "Active mode is disabled on this server; use PASV or EPSV.")
	}
	target = netip.AddrPortFrom(target.Addr().Unmap(), target.Port())
	if err := checkActiveTarget(target, s.remote.Addr(), s.srv.cfg.ActiveAnyPeer); err != nil {
		s.log.Warn("active target refused", "cmd", cmd, "target", target.String(), "err", err)
		return reply(ftp.CodeBadArguments, err.Error())
	}
	s.closePassive()
	s.active, s.dataCmd = target, cmd
	return reply(ftp.CodeOK, cmd+" command successful. Consider using EPSV.")
}
