package firewall

import "fmt"

// firewalld writes a shell script of `firewall-cmd --permanent` commands:
// what administrators type and can read back with --list-all. A port is
// opened with --add-port; one bound to an address or a single family
// needs a rich rule. The stock "ftp" service is not used: it opens only
// port 21 and relies on the conntrack helper, which cannot follow an
// encrypted control connection.
func firewalld(s Spec, rs []rule) []byte {
	b := script(s, rs, Firewalld,
		"Run as root. The commands change the default zone; add --zone=ZONE to each\n"+
			"for an interface in another. firewalld accepts replies itself and lets\n"+
			"outbound connections through unless a policy filters them, so the active\n"+
			"data channel needs no command here.")
	for _, r := range rs {
		fmt.Fprintf(b, "# %s\n", r.comment)
		if r.out {
			b.WriteString("#   outbound: nothing to add unless a firewalld policy filters egress\n")
			continue
		}
		port := ports(r.server, "-")
		if len(r.scope.addrs) == 0 && r.scope.family == both {
			fmt.Fprintf(b, "firewall-cmd --permanent --add-port=%s/tcp\n", port)
			continue
		}
		fam := "ipv4"
		if r.scope.family == v6 {
			fam = "ipv6"
		}
		if len(r.scope.addrs) == 0 {
			fmt.Fprintf(b, "firewall-cmd --permanent --add-rich-rule='rule family=\"%s\" port port=\"%s\" protocol=\"tcp\" accept'\n", fam, port)
			continue
		}
		for _, a := range r.scope.addrs {
			fmt.Fprintf(b, "firewall-cmd --permanent --add-rich-rule='rule family=\"%s\" destination address=\"%s\" port port=\"%s\" protocol=\"tcp\" accept'\n", fam, a, port)
		}
	}
	b.WriteString("firewall-cmd --reload\n")
	return b.Bytes()
}
