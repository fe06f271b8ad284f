package firewall

import (
	"bytes"
	"fmt"
)

// ufw writes a shell script of `ufw allow` commands. ufw keeps its own
// default policies and accepts established connections itself, so the
// script only adds the channels.
func ufw(s Spec, rs []rule) []byte {
	b := script(s, rs, UFW,
		"Run as root. ufw accepts replies on established connections itself.\n"+
			"The `allow out` rules matter only under `ufw default deny outgoing`.")
	for _, r := range rs {
		dir, serverEnd, clientEnd := "in", "to", "from"
		if r.out {
			dir, serverEnd, clientEnd = "out", "from", "to"
		}
		var targets []string
		switch {
		case len(r.scope.addrs) > 0:
			for _, a := range r.scope.addrs {
				targets = append(targets, a.String())
			}
		case r.scope.family == v4:
			targets = []string{"0.0.0.0/0"}
		case r.scope.family == v6:
			targets = []string{"::/0"}
		default:
			targets = []string{"any"}
		}
		for _, t := range targets {
			server := fmt.Sprintf("%s %s port %s", serverEnd, t, ports(r.server, ":"))
			client := ""
			if r.client.Size() > 0 && r.client != anyPort {
				client = fmt.Sprintf("%s any port %s", clientEnd, ports(r.client, ":"))
			}
			ends := server
			if client != "" {
				if r.out {
					ends = server + " " + client
				} else {
					ends = client + " " + server
				}
			}
			fmt.Fprintf(b, "ufw allow %s proto tcp %s comment '%s'\n", dir, ends, r.comment)
		}
	}
	return b.Bytes()
}

// script starts a shell script of firewall commands: the header, then
// set -eu so that the first refused command stops it.
func script(s Spec, rs []rule, f Format, note string) *bytes.Buffer {
	var b bytes.Buffer
	b.WriteString("#!/bin/sh\n")
	b.Write(header(s, rs, f, note))
	b.WriteString("set -eu\n")
	return &b
}
