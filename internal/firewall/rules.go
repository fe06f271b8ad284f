package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
)

// family is the address family a rule applies to.
type family uint8

const (
	both family = iota // a dual-stack wildcard listener ("[::]:21", ":21")
	v4
	v6
)

// scope is where on the server a rule applies: an address family and
// the server's own addresses in it, none meaning any address.
type scope struct {
	family family
	addrs  []netip.Addr
}

// has reports whether the scope covers family f at all.
func (sc scope) has(f family) bool { return sc.family == both || sc.family == f }

// rule is one channel the firewall opens: a new TCP connection into the
// server (the server's port is the destination) or out of it (the
// server's port is the source). The formats turn it into their syntax.
type rule struct {
	out     bool
	scope   scope
	server  ftp.PortRange // the server's port(s)
	client  ftp.PortRange // the client's port(s); zero: any
	comment string
}

var (
	unprivileged = ftp.PortRange{Min: 1024, Max: 65535}
	anyPort      = ftp.PortRange{Min: 1, Max: 65535}
)

// rules lists the channels of s in a fixed order: control listeners in
// the order given, then passive data, then active data.
func (s Spec) rules() []rule {
	var rs []rule
	type group struct {
		port     uint16
		implicit bool
		addrs    []netip.Addr
	}
	var groups []*group
	add := func(ap netip.AddrPort, implicit bool) {
		for _, g := range groups {
			if g.port == ap.Port() && g.implicit == implicit {
				g.addrs = append(g.addrs, ap.Addr())
				return
			}
		}
		groups = append(groups, &group{port: ap.Port(), implicit: implicit, addrs: []netip.Addr{ap.Addr()}})
	}
	for _, ap := range s.Control {
		add(ap, false)
	}
	for _, ap := range s.Implicit {
		add(ap, true)
	}
	var all []netip.Addr
	for _, g := range groups {
		all = append(all, g.addrs...)
		comment := fmt.Sprintf("FTP control (client -> server %d)", g.port)
		if g.implicit {
			comment = fmt.Sprintf("FTPS implicit-TLS control (client -> server %d)", g.port)
		}
		for _, sc := range scopes(g.addrs) {
			rs = append(rs, rule{scope: sc, server: single(g.port), comment: comment})
		}
	}

	for _, sc := range scopes(all) {
		rs = append(rs, rule{scope: sc, server: s.Passive,
			comment: fmt.Sprintf("passive data (client -> server %s)", portsText(s.Passive))})
	}

	if !s.Active {
		return rs
	}
	client := unprivileged
	if s.ActiveAnyPeer {
		client = anyPort
	}
	active := func(src ftp.PortRange, addrs []netip.Addr) {
		for _, sc := range scopes(addrs) {
			rs = append(rs, rule{out: true, scope: sc, server: src, client: client,
				comment: fmt.Sprintf("active data (server %s -> client %s)", portsText(src), portsText(client))})
		}
	}
	if !s.ActiveFromPort20 {
		// An ephemeral port: the kernel's ip_local_port_range, which an
		// administrator may move anywhere above 1023.
		active(unprivileged, all)
		return rs
	}
	// The server binds the control port minus one of the connection the
	// PORT command came on, so each control port has its data port.
	var dataPorts []uint16
	byPort := map[uint16][]netip.Addr{}
	for _, g := range groups {
		p := g.port - 1
		if _, ok := byPort[p]; !ok {
			dataPorts = append(dataPorts, p)
		}
		byPort[p] = append(byPort[p], g.addrs...)
	}
	for _, p := range dataPorts {
		if p == 0 { // control port 1 has no port below it
			active(unprivileged, byPort[p])
			continue
		}
		active(single(p), byPort[p])
	}
	return rs
}

// scopes sorts listener addresses into the scopes that cover them: a
// dual-stack wildcard covers everything, "0.0.0.0" all of IPv4, and
// specific addresses only themselves.
func scopes(addrs []netip.Addr) []scope {
	var any4, any6 bool
	var a4, a6 []netip.Addr
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		switch {
		case a == netip.IPv6Unspecified():
			// Go listens dual-stack on "[::]:21" and ":21".
			return []scope{{family: both}}
		case a.Is4() && a.IsUnspecified():
			any4 = true
		case a.Is4():
			a4 = append(a4, a)
		case a.IsUnspecified():
			any6 = true
		default:
			a6 = append(a6, a)
		}
	}
	var out []scope
	if any4 {
		out = append(out, scope{family: v4})
	} else if len(a4) > 0 {
		slices.SortFunc(a4, netip.Addr.Compare)
		out = append(out, scope{family: v4, addrs: slices.Compact(a4)})
	}
	if any6 {
		out = append(out, scope{family: v6})
	} else if len(a6) > 0 {
		slices.SortFunc(a6, netip.Addr.Compare)
		out = append(out, scope{family: v6, addrs: slices.Compact(a6)})
	}
	return out
}

func single(p uint16) ftp.PortRange { return ftp.PortRange{Min: p, Max: p} }

// portsText writes a range in the analysis's terms: "21", ">1023",
// "any" or "50000-50100".
func portsText(r ftp.PortRange) string {
	switch {
	case r == unprivileged:
		return ">1023"
	case r == anyPort || r.Size() == 0:
		return "any"
	case r.Min == r.Max:
		return fmt.Sprint(r.Min)
	}
	return fmt.Sprintf("%d-%d", r.Min, r.Max)
}

// ports writes a range with sep between its ends, as each tool wants it.
func ports(r ftp.PortRange, sep string) string {
	if r.Min == r.Max {
		return fmt.Sprint(r.Min)
	}
	return fmt.Sprintf("%d%s%d", r.Min, sep, r.Max)
}

// header is the comment block every format starts with: what the rules
// open, and the notes an administrator needs before loading them.
func header(s Spec, rs []rule, f Format, notes ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# ferry: host-firewall rules (%s), generated by `ferry firewall --format %s`.\n", f, f)
	b.WriteString("#\n# New connections this server needs; replies on each (the server's answers\n")
	b.WriteString("# on the control connection, the client's ACKs on a data connection) are\n")
	b.WriteString("# accepted as established connections.\n")
	for _, r := range rs {
		where := "any address"
		if len(r.scope.addrs) > 0 {
			where = joinAddrs(r.scope.addrs, ", ")
		} else if r.scope.family == v4 {
			where = "any IPv4 address"
		} else if r.scope.family == v6 {
			where = "any IPv6 address"
		}
		fmt.Fprintf(&b, "#   %s on %s\n", r.comment, where)
	}
	if s.PassiveAdvertised.Size() > 0 {
		fmt.Fprintf(&b, "#\n# passive.port_map_to: clients are told ports %s. The router must forward\n", portsText(s.PassiveAdvertised))
		fmt.Fprintf(&b, "# them to this host's ports %s, the range the host sees and these rules open.\n", portsText(s.Passive))
	}
	switch {
	case !s.Active:
		b.WriteString("#\n# Active mode is off (active.enabled = false): no active data rule.\n")
	case s.ActiveFromPort20:
		b.WriteString("#\n# Active data leaves from the control port minus one (active.from_port_20).\n")
		b.WriteString("# Without the privilege to bind it ferry falls back to an ephemeral port, which\n")
		b.WriteString("# these rules do not let out: grant CAP_NET_BIND_SERVICE.\n")
	}
	for _, n := range notes {
		b.WriteString("#\n")
		for line := range strings.SplitSeq(n, "\n") {
			b.WriteString("# " + line + "\n")
		}
	}
	b.WriteString("\n")
	return []byte(b.String())
}

func joinAddrs(addrs []netip.Addr, sep string) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, sep)
}
