package firewall

import (
	"bytes"
	"fmt"
	"net/netip"
)

// iptables writes an iptables-restore file for one family: iptables
// cannot hold IPv4 and IPv6 rules in one file, so ip6tables has its own
// format.
func iptables(s Spec, rs []rule, fam family) []byte {
	f, tool, other, otherTool := IPTables, "iptables", IP6Tables, "ip6tables"
	if fam == v6 {
		f, tool, other, otherTool = IP6Tables, "ip6tables", IPTables, "iptables"
	}
	var mine []rule
	otherNeeded := false
	for _, r := range rs {
		if r.scope.has(fam) {
			mine = append(mine, r)
		}
		if r.scope.family == both || r.scope.family != fam {
			otherNeeded = true
		}
	}
	notes := []string{fmt.Sprintf(
		"Check with `%[1]s-restore --test FILE`, load with `%[1]s-restore FILE`, which\n"+
			"replaces the whole filter table (--noflush appends instead). INPUT drops\n"+
			"everything it does not list: before loading over SSH, add --allow-tcp 22.\n"+
			"OUTPUT accepts everything, as most servers do; its rules are what ferry\n"+
			"needs if you set its policy to DROP.", tool)}
	if len(mine) == 0 {
		notes = append(notes, fmt.Sprintf("No listener uses %s: this file opens no FTP channel.", familyName(fam)))
	}
	if otherNeeded {
		notes = append(notes, fmt.Sprintf(
			"This server also listens on %s: load `ferry firewall --format %s`\n"+
				"with %s-restore too.", familyName(fam^v4^v6), other, otherTool))
	}
	var b bytes.Buffer
	b.Write(header(s, mine, f, notes...))
	b.WriteString("*filter\n:INPUT DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	accept := func(chain, match, comment string) {
		fmt.Fprintf(&b, "-A %s %s -m comment --comment %q -j ACCEPT\n", chain, match, comment)
	}
	accept("INPUT", "-m conntrack --ctstate ESTABLISHED,RELATED", "replies on open channels (server -> client, client ACKs)")
	b.WriteString("-A INPUT -m conntrack --ctstate INVALID -j DROP\n")
	accept("INPUT", "-i lo", "loopback")
	if fam == v4 {
		for _, t := range []string{"destination-unreachable", "time-exceeded", "parameter-problem", "echo-request"} {
			accept("INPUT", "-p icmp --icmp-type "+t, "ICMP errors and ping")
		}
	} else {
		for _, t := range []string{"destination-unreachable", "packet-too-big", "time-exceeded", "parameter-problem",
			"echo-request", "router-advertisement", "neighbour-solicitation", "neighbour-advertisement"} {
			accept("INPUT", "-p ipv6-icmp --icmpv6-type "+t, "ICMPv6 that IPv6 needs (neighbour discovery, path MTU)")
		}
	}
	for _, p := range s.Allow {
		accept("INPUT", fmt.Sprintf("-p tcp --dport %d -m conntrack --ctstate NEW", p), fmt.Sprintf("allowed (client -> server %d)", p))
	}
	for _, out := range []bool{false, true} {
		chain := "INPUT"
		if out {
			chain = "OUTPUT"
			accept(chain, "-m conntrack --ctstate ESTABLISHED,RELATED", "replies on open channels (server 21 -> client >1023, passive data)")
			accept(chain, "-o lo", "loopback")
		}
		for _, r := range mine {
			if r.out != out {
				continue
			}
			for _, m := range iptablesMatches(r) {
				accept(chain, m, r.comment)
			}
		}
	}
	b.WriteString("COMMIT\n")
	return b.Bytes()
}

// iptablesMatches returns the match part of r's rules, one per server
// address since -d with a list expands to one rule each anyway.
func iptablesMatches(r rule) []string {
	addrFlag, serverPort, clientPort := "-d", "--dport", "--sport"
	if r.out {
		addrFlag, serverPort, clientPort = "-s", "--sport", "--dport"
	}
	tail := fmt.Sprintf("-p tcp %s %s", serverPort, ports(r.server, ":"))
	if r.client.Size() > 0 && r.client != anyPort {
		tail += fmt.Sprintf(" %s %s", clientPort, ports(r.client, ":"))
	}
	tail += " -m conntrack --ctstate NEW"
	if len(r.scope.addrs) == 0 {
		return []string{tail}
	}
	var ms []string
	for _, a := range r.scope.addrs {
		ms = append(ms, fmt.Sprintf("%s %s %s", addrFlag, hostPrefix(a), tail))
	}
	return ms
}

func hostPrefix(a netip.Addr) string {
	return netip.PrefixFrom(a, a.BitLen()).String()
}

func familyName(f family) string {
	if f == v6 {
		return "IPv6"
	}
	return "IPv4"
}
