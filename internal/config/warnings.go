package config

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/auth"
	"github.com/ferry-ftp/ferry/server"
)

// warnings are the likely mistakes of a valid configuration, for
// Built.Warnings: the server starts, but some clients will fail or
// passwords cross the network in clear.
func (c *Config) warnings(listen []netip.AddrPort, ports ftp.PortRange, passwords bool) []string {
	var w []string
	add := func(s string) {
		if !slices.Contains(w, s) {
			w = append(w, s)
		}
	}
	for _, ap := range listen {
		for _, s := range advertiseWarnings(ap, c.passiveAddr, ports) {
			add(s)
		}
		if passwords && !c.TLS.Enabled() && !ap.Addr().IsLoopback() {
			add(fmt.Sprintf("listening on %s without [tls]: passwords and files cross the network in clear", ap))
		}
	}
	if c.Anonymous.Enabled {
		perms, _ := auth.ParsePerms(c.Anonymous.Permissions)
		if perms&^server.PermReadOnly != 0 {
			add(fmt.Sprintf("anonymous users may change files under %s (anonymous.permissions)", c.Path(c.Anonymous.Root)))
		}
	}
	if c.Passive.AnyPeer || c.Active.AnyPeer {
		add("passive.any_peer or active.any_peer is on: data connections may involve third hosts (FXP), which bounce attacks abuse")
	}
	return w
}

// advertiseWarnings returns start-up warnings about likely mistakes in
// the passive-mode setup: listen is the control listener's address, adv
// the fixed advertised address (invalid when it is not fixed), r the
// passive port range in use.
func advertiseWarnings(listen netip.AddrPort, adv netip.Addr, r ftp.PortRange) []string {
	var w []string
	la, adv := listen.Addr().Unmap(), adv.Unmap()
	if adv.IsValid() {
		switch {
		case adv.Is6():
			w = append(w, fmt.Sprintf("passive address %s is IPv6, but PASV replies can only carry IPv4: "+
				"advertise an IPv4 address (IPv6 clients use EPSV, which needs none)", adv))
		case !adv.IsGlobalUnicast() && !adv.IsLoopback():
			w = append(w, fmt.Sprintf("passive address %s is not a unicast address clients can connect to: "+
				"advertise the server's own address", adv))
		case isInternal(adv) && (la.IsUnspecified() || isPublic(la)):
			w = append(w, fmt.Sprintf("passive address %s is private but the server listens on %s: "+
				"clients from the internet will get a data address they cannot reach; "+
				"advertise the public address, or use split-horizon rules to give %s to the local network only",
				adv, listen, adv))
		case isPublic(adv) && la.IsLoopback():
			w = append(w, fmt.Sprintf("passive address %s is public but the server listens on loopback (%s) only: "+
				"remote clients cannot connect; listen on 0.0.0.0 or on the interface that receives their traffic",
				adv, listen))
		}
	}
	if n := r.Size(); n > 1000 {
		w = append(w, fmt.Sprintf("passive port range %d-%d holds %d ports: firewalls and NAT port forwards "+
			"are usually opened for a small range; about 100 ports serve 100 transfers at once",
			r.Min, r.Max, n))
	}
	if r.Size() > 0 && r.Min < 1024 {
		w = append(w, fmt.Sprintf("passive port range starts at %d, below 1024: binding there needs privileges "+
			"and collides with system services; use ports above 1024", r.Min))
	}
	if r.Contains(listen.Port()) {
		w = append(w, fmt.Sprintf("control port %d is inside the passive port range %d-%d: "+
			"move the range so that the firewall rules for control and data stay distinct",
			listen.Port(), r.Min, r.Max))
	}
	return w
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598):
// not reachable from the internet.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// isInternal reports whether a cannot be reached from the internet.
func isInternal(a netip.Addr) bool {
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || cgnat.Contains(a)
}

// isPublic reports whether a looks like an internet address.
func isPublic(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !isInternal(a)
}
