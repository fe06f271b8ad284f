package client

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// Mode chooses how data connections are opened.
type Mode int

const (
	// ModePassive: EPSV, falling back to PASV if the server refuses EPSV
	// with a 5yz reply (and using PASV from then on).
	ModePassive Mode = iota
	// ModeActive: EPRT, falling back to PORT if the server refuses EPRT.
	ModeActive
	// ModeAuto: passive; if a passive data connection cannot be opened,
	// active from then on. LastData().Fallback says why it switched.
	ModeAuto
	// ModeEPSV, ModePASV, ModeEPRT and ModePORT use only that command,
	// with no fallback; for diagnosing a server or a firewall.
	ModeEPSV
	ModePASV
	ModeEPRT
	ModePORT
)

func (m Mode) String() string {
	switch m {
	case ModePassive:
		return "passive"
	case ModeActive:
		return "active"
	case ModeAuto:
		return "auto"
	case ModeEPSV:
		return "EPSV"
	case ModePASV:
		return "PASV"
	case ModeEPRT:
		return "EPRT"
	case ModePORT:
		return "PORT"
	}
	return "unknown"
}

// An Option configures Dial.
type Option func(*config)

type config struct {
	tlsConf    *tls.Config
	implicit   bool
	mode       Mode
	activeAddr netip.Addr
	activeMin  uint16
	activeMax  uint16
	trustPASV  bool
	debug      func(Direction, string)
	timeout    time.Duration
	logger     *slog.Logger
	// dataDial opens passive data connections; tests replace it to prove
	// where the client would connect without sending traffic there.
	dataDial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func defaultConfig() config {
	return config{
		mode:     ModePassive,
		timeout:  30 * time.Second,
		logger:   slog.New(slog.DiscardHandler),
		dataDial: (&net.Dialer{}).DialContext,
	}
}

// WithTLS secures the session with AUTH TLS (RFC 4217) and protects
// data connections with PROT P after login. cfg may be nil.
func WithTLS(cfg *tls.Config) Option {
	return func(c *config) {
		if cfg == nil {
			cfg = &tls.Config{}
		}
		c.tlsConf, c.implicit = cfg, false
	}
}

// WithImplicitTLS starts TLS as soon as the TCP connection is open
// (implicit FTPS, port 990 by convention). cfg may be nil.
func WithImplicitTLS(cfg *tls.Config) Option {
	return func(c *config) {
		if cfg == nil {
			cfg = &tls.Config{}
		}
		c.tlsConf, c.implicit = cfg, true
	}
}

// WithMode selects how data connections are opened; ModePassive by default.
func WithMode(m Mode) Option { return func(c *config) { c.mode = m } }

// WithActiveAddress sets the address announced in EPRT/PORT, e.g. the
// public address of a NAT that forwards the active ports; by default the
// control connection's local address. The client always listens on the
// control connection's local address.
func WithActiveAddress(a netip.Addr) Option { return func(c *config) { c.activeAddr = a.Unmap() } }

// WithActivePorts limits the ports listened on in active mode to
// [min, max]; by default the system picks one.
func WithActivePorts(min, max uint16) Option {
	return func(c *config) { c.activeMin, c.activeMax = min, max }
}

// WithTrustPASVAddress makes the client connect to the address a 227
// reply names even when it differs from the control connection's peer.
// By default such an address (typically a private address leaked by a
// server behind NAT) is replaced by the control peer's, and the
// substitution is reported through the debug hook.
func WithTrustPASVAddress(trust bool) Option { return func(c *config) { c.trustPASV = trust } }

// WithDebug receives a transcript of the session as the classic ftp -d
// prints it: commands as "---> VERB arg" (the password as "PASS XXXX"),
// reply lines as received, and the client's own decisions as Note.
func WithDebug(f func(dir Direction, line string)) Option { return func(c *config) { c.debug = f } }

// WithTimeout bounds each network operation: dialing, each reply, each
// data-connection setup, and each read or write of a transfer. Default 30s.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithLogger receives debug-level records of fallbacks and overrides.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}
