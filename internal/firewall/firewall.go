// Package firewall writes the host-firewall rules a ferry server needs,
// for nftables, iptables, ip6tables, ufw and firewalld.
//
// The rules open the channels of the classic server-side analysis of
// active and passive FTP, and nothing else:
//
//	control:      client >1023 -> server 21 (and server 21 -> client, a reply)
//	passive data: client >1023 -> server passive range
//	active data:  server 20 (or an ephemeral port) -> client >1023
//
// Replies on each channel (the server's answers on the control
// connection, the client's ACKs on an active data connection) are
// accepted as established connections; only new connections get rules
// of their own. The passive range is opened explicitly instead of with
// the nf_conntrack_ftp helper, because the helper cannot read an
// encrypted control connection (AUTH TLS, implicit FTPS) nor a control
// port other than 21.
package firewall

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"

	"github.com/ferry-ftp/ferry/ftp"
)

// Spec is what the rules depend on: a neutral description of a server's
// listeners and data-connection modes, built from the configuration by
// the command line (ferry firewall) or by hand.
type Spec struct {
	// Control are the plain control listeners (AUTH TLS may follow).
	Control []netip.AddrPort
	// Implicit are the implicit-TLS control listeners.
	Implicit []netip.AddrPort
	// Passive is the local passive port range: the ports the server binds
	// and so the ports this host's firewall sees.
	Passive ftp.PortRange
	// PassiveAdvertised is the range PASV and EPSV replies name when a
	// port map is configured (passive.port_map_to); zero: none. The router
	// in front of the host translates it to Passive, so the host firewall
	// never sees these ports: they appear only in a note for the router.
	PassiveAdvertised ftp.PortRange
	// Active allows PORT/EPRT: the server opens data connections.
	Active bool
	// ActiveFromPort20 makes active connections leave from the control
	// port minus one (20 for 21) instead of an ephemeral port.
	ActiveFromPort20 bool
	// ActiveAnyPeer lifts bounce protection, so active data connections
	// may go to ports below 1024 too.
	ActiveAnyPeer bool
	// Allow are further TCP ports to keep open in the rulesets that drop
	// everything else (nftables, iptables), such as 22 for SSH.
	Allow []uint16
}

// Validate reports what makes s impossible to write rules for.
func (s Spec) Validate() error {
	var errs []error
	if len(s.Control)+len(s.Implicit) == 0 {
		errs = append(errs, errors.New("no control listener"))
	}
	for _, ap := range slices.Concat(s.Control, s.Implicit) {
		if !ap.IsValid() {
			errs = append(errs, fmt.Errorf("listener %v: not an address", ap))
		} else if ap.Port() == 0 {
			errs = append(errs, fmt.Errorf("listener %v: port 0 is chosen at start, a firewall needs a fixed port", ap))
		}
	}
	if s.Passive.Size() == 0 {
		errs = append(errs, errors.New("no passive port range"))
	}
	if s.PassiveAdvertised.Size() != 0 && s.PassiveAdvertised.Size() != s.Passive.Size() {
		errs = append(errs, fmt.Errorf("advertised passive range %s is not the size of %s",
			portsText(s.PassiveAdvertised), portsText(s.Passive)))
	}
	for _, p := range s.Allow {
		if p == 0 {
			errs = append(errs, errors.New("allowed port 0"))
		}
	}
	return errors.Join(errs...)
}

// Format is an output format.
type Format string

// The formats Write knows.
const (
	NFTables  Format = "nftables"
	IPTables  Format = "iptables"
	IP6Tables Format = "ip6tables"
	UFW       Format = "ufw"
	Firewalld Format = "firewalld"
)

// Formats lists every format, in the order help text shows them.
func Formats() []Format { return []Format{NFTables, IPTables, IP6Tables, UFW, Firewalld} }

// Write writes the rules for s in format f to w.
func Write(w io.Writer, s Spec, f Format) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("firewall: %w", err)
	}
	rs := s.rules()
	var out []byte
	switch f {
	case NFTables:
		out = nftables(s, rs)
	case IPTables:
		out = iptables(s, rs, v4)
	case IP6Tables:
		out = iptables(s, rs, v6)
	case UFW:
		out = ufw(s, rs)
	case Firewalld:
		out = firewalld(s, rs)
	default:
		return fmt.Errorf("firewall: unknown format %q (want one of %v)", f, Formats())
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("firewall: %w", err)
	}
	return nil
}
