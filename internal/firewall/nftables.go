package firewall

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// nftables writes one table, "inet ferry", for both address families.
// The file first creates and deletes the table, so that loading it again
// replaces the old rules instead of adding to them.
func nftables(s Spec, rs []rule) []byte {
	var b bytes.Buffer
	b.Write(header(s, rs, NFTables,
		"Check with `nft -c -f FILE`, load with `nft -f FILE`. The input chain drops\n"+
			"everything it does not list: before loading over SSH, add --allow-tcp 22.\n"+
			"Every table's chain at a hook must accept a packet: a drop in another\n"+
			"table wins over an accept here, so allow these channels there too.\n"+
			"The output chain accepts everything, as most servers do; its rules are\n"+
			"what ferry needs if you set its policy to drop."))
	b.WriteString("table inet ferry\ndelete table inet ferry\n\ntable inet ferry {\n")

	b.WriteString("\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n")
	b.WriteString("\t\tct state established,related accept comment \"replies on open channels (server -> client, client ACKs)\"\n")
	b.WriteString("\t\tct state invalid drop\n")
	b.WriteString("\t\tiif \"lo\" accept comment \"loopback\"\n")
	b.WriteString("\t\ticmp type { destination-unreachable, time-exceeded, parameter-problem, echo-request } accept comment \"ICMP errors and ping\"\n")
	b.WriteString("\t\ticmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, echo-request, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept comment \"ICMPv6 that IPv6 needs (neighbour discovery, path MTU)\"\n")
	for _, p := range s.Allow {
		fmt.Fprintf(&b, "\t\ttcp dport %d ct state new accept comment \"allowed (client -> server %d)\"\n", p, p)
	}
	for _, r := range rs {
		if !r.out {
			b.WriteString("\t\t" + nftRule(r) + "\n")
		}
	}
	b.WriteString("\t}\n\n")

	b.WriteString("\tchain output {\n\t\ttype filter hook output priority filter; policy accept;\n")
	b.WriteString("\t\tct state established,related accept comment \"replies on open channels (server 21 -> client >1023, passive data)\"\n")
	b.WriteString("\t\toif \"lo\" accept comment \"loopback\"\n")
	for _, r := range rs {
		if r.out {
			b.WriteString("\t\t" + nftRule(r) + "\n")
		}
	}
	b.WriteString("\t}\n}\n")
	return b.Bytes()
}

func nftRule(r rule) string {
	var parts []string
	dir, serverPort, clientPort := "daddr", "dport", "sport"
	if r.out {
		dir, serverPort, clientPort = "saddr", "sport", "dport"
	}
	switch {
	case len(r.scope.addrs) > 0:
		proto := "ip"
		if r.scope.family == v6 {
			proto = "ip6"
		}
		parts = append(parts, proto+" "+dir+" "+nftSet(r.scope.addrs))
	case r.scope.family == v4:
		parts = append(parts, "meta nfproto ipv4")
	case r.scope.family == v6:
		parts = append(parts, "meta nfproto ipv6")
	}
	parts = append(parts, "tcp "+serverPort+" "+ports(r.server, "-"))
	if r.client.Size() > 0 && r.client != anyPort {
		parts = append(parts, "tcp "+clientPort+" "+ports(r.client, "-"))
	}
	parts = append(parts, "ct state new accept", fmt.Sprintf("comment %q", r.comment))
	return strings.Join(parts, " ")
}

func nftSet(addrs []netip.Addr) string {
	if len(addrs) == 1 {
		return addrs[0].String()
	}
	return "{ " + joinAddrs(addrs, ", ") + " }"
}
