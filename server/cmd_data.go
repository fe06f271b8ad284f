package server

import (
	"context"
	"errors"
	"net/netip"

	"github.com/ferry-ftp/ferry/ftp"
)

// The data-connection commands (RFC 959 4.1.2, RFC 2428) set up the
// session's data channel; see datachan.go.

func (s *session) cmdPASV(ctx context.Context, _ string) (*ftp.Reply, error) {
	if s.data.epsvAll {
		return reply(ftp.CodeBadSequence, "PASV not allowed after EPSV ALL."), nil
	}
	if !s.local.Addr().Is4() {
		// 522 is EPSV's and EPRT's reply (RFC 2428); PASV's argument
		// syntax cannot carry this address at all.
		return reply(ftp.CodeBadArguments, "PASV is IPv4 only; use EPSV on an IPv6 connection."), nil
	}
	adv, err := s.srv.cfg.Advertise.Advertise(ctx, s.local.Addr(), s.remote.Addr())
	if err != nil || !adv.Unmap().Is4() {
		s.log.Error("no IPv4 address to advertise for PASV", "err", err, "addr", adv.String())
		return reply(ftp.CodeCantOpenData, "Cannot determine the passive address; use EPSV."), nil
	}
	local, port, r := s.data.passive("PASV")
	if r != nil {
		return r, nil
	}
	hp, _ := ftp.FormatHostPort(netip.AddrPortFrom(adv.Unmap(), port))
	s.log.Debug("passive listener", "cmd", "PASV", "local_port", local, "advertised", hp)
	return reply(ftp.CodePassive, "Entering Passive Mode ("+hp+")."), nil
}

func (s *session) cmdEPSV(_ context.Context, arg string) (*ftp.Reply, error) {
	a, err := ftp.ParseEPSVArg(arg)
	if err != nil {
		if errors.Is(err, ftp.ErrBadProtocol) {
			return reply(ftp.CodeNetworkProtocol, "Network protocol not supported, use ("+s.protoNumber()+")"), nil
		}
		return reply(ftp.CodeBadArguments, "Usage: EPSV [1|2|ALL]"), nil
	}
	switch a {
	case ftp.EPSVAll:
		s.data.epsvAll = true
		return reply(ftp.CodeOK, "EPSV ALL ok; only EPSV will be accepted from now on."), nil
	case ftp.EPSVIPv4, ftp.EPSVIPv6:
		// The listener shares the control connection's address, so only
		// that protocol can be offered (RFC 2428 section 3).
		if (a == ftp.EPSVIPv4) != s.local.Addr().Is4() {
			return reply(ftp.CodeNetworkProtocol, "Network protocol not supported, use ("+s.protoNumber()+")"), nil
		}
	}
	local, port, r := s.data.passive("EPSV")
	if r != nil {
		return r, nil
	}
	s.log.Debug("passive listener", "cmd", "EPSV", "local_port", local, "advertised_port", port)
	return reply(ftp.CodeExtendedPassive, ftp.FormatEPSVReply(port)), nil
}

// protoNumber is the RFC 2428 protocol number of the control connection.
func (s *session) protoNumber() string {
	if s.local.Addr().Is4() {
		return "1"
	}
	return "2"
}

func (s *session) cmdPORT(_ context.Context, arg string) (*ftp.Reply, error) {
	target, err := ftp.ParseHostPort(arg)
	if err != nil {
		return reply(ftp.CodeBadArguments, "Illegal PORT command."), nil
	}
	return s.data.port("PORT", target), nil
}

func (s *session) cmdEPRT(_ context.Context, arg string) (*ftp.Reply, error) {
	target, err := ftp.ParseEPRT(arg)
	if err != nil {
		if errors.Is(err, ftp.ErrBadProtocol) {
			return reply(ftp.CodeNetworkProtocol, "Network protocol not supported, use (1,2)"), nil
		}
		return reply(ftp.CodeBadArguments, "Illegal EPRT command."), nil
	}
	return s.data.port("EPRT", target), nil
}
