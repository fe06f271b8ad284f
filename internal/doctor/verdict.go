package doctor

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Verdict sums the data-mode checks up.
type Verdict struct {
	OK      bool     `json:"ok"`      // at least one data mode works
	Working []string `json:"working"` // modes that listed the directory, in order of preference
	Failing []string `json:"failing"` // modes tried that did not
	// Use is the mode kind to use, "passive" or "active"; "" if none works.
	Use string `json:"use"`
	// Command is the first working mode command, e.g. "EPSV".
	Command  string    `json:"command"`
	Summary  string    `json:"summary"`
	Channels []Channel `json:"channels"`
}

// Channel is one firewall opening a side needs, in the terms of the
// classic active/passive explanation.
type Channel struct {
	Side string `json:"side"` // "client" or "server"
	For  string `json:"for"`  // "control", "passive" or "active"
	Rule string `json:"rule"`
	// Seen is true when a connection that needs this channel worked
	// during the run, i.e. it is open now.
	Seen bool `json:"seen"`
}

func verdict(rep *Report, peer netip.Addr, port int) Verdict {
	v := Verdict{Working: []string{}, Failing: []string{}}
	if peer.IsValid() {
		rep.Server = netip.AddrPortFrom(peer, uint16(port)).String()
	}
	var passivePorts, activePorts []int
	passiveOK, activeOK := false, false
	tried := 0
	for _, m := range modes {
		c := rep.Check(m.String())
		if c == nil || c.Skipped {
			continue
		}
		tried++
		isPassive := passive(m)
		if p := portOf(c.Data.Addr); p != 0 && (c.Data.Opened || isPassive) {
			if isPassive {
				passivePorts = append(passivePorts, p)
			} else {
				activePorts = append(activePorts, p)
			}
		} else if p := portOf(c.Data.Advertised); isPassive && p != 0 {
			passivePorts = append(passivePorts, p)
		}
		if !c.OK {
			v.Failing = append(v.Failing, m.String())
			continue
		}
		v.Working = append(v.Working, m.String())
		if isPassive {
			passiveOK = true
		} else {
			activeOK = true
		}
	}
	v.OK = len(v.Working) > 0
	switch {
	case passiveOK:
		v.Use = "passive"
	case activeOK:
		v.Use = "active"
	}
	if v.OK {
		v.Command = v.Working[0]
	}
	v.Summary = summary(rep, v, tried, passiveOK, activeOK)
	if !peer.IsValid() {
		return v
	}
	v.Channels = channels(rep, peer, port, passivePorts, activePorts, passiveOK, activeOK)
	return v
}

func summary(rep *Report, v Verdict, tried int, passiveOK, activeOK bool) string {
	var failPassive, failActive []string
	for _, m := range v.Failing {
		if m == "EPSV" || m == "PASV" {
			failPassive = append(failPassive, m)
		} else {
			failActive = append(failActive, m)
		}
	}
	also := func(kind string, failed []string) string {
		if len(failed) == 0 {
			return ""
		}
		return fmt.Sprintf(" Of the %s commands, %s failed.", kind, strings.Join(failed, ", "))
	}
	switch {
	case tried == 0:
		return "The data modes could not be tested; fix the failures above first."
	case !v.OK:
		return "No data mode works: listings and transfers will fail. " + firstCause(rep, v.Failing)
	case len(v.Failing) == 0:
		return fmt.Sprintf("All data modes tried work (%s). Use passive mode (%s): the client opens every connection, "+
			"so only the server's firewall needs rules for it.", strings.Join(v.Working, ", "), v.Command)
	case passiveOK && !activeOK:
		return fmt.Sprintf("Passive mode works (%s); active mode does not (%s).%s Use passive mode (%s). %s",
			strings.Join(v.Working, ", "), strings.Join(failActive, ", "), also("passive", failPassive), v.Command, firstCause(rep, v.Failing))
	case activeOK && !passiveOK:
		return fmt.Sprintf("Only active mode works (%s); passive mode does not (%s).%s Use active mode (%s) until the server's side is fixed. %s",
			strings.Join(v.Working, ", "), strings.Join(failPassive, ", "), also("active", failActive), v.Command, firstCause(rep, v.Failing))
	}
	return fmt.Sprintf("Both passive and active mode work, but not every command: %s work; %s do not. Use %s mode (%s). %s",
		strings.Join(v.Working, ", "), strings.Join(v.Failing, ", "), v.Use, v.Command, firstCause(rep, v.Failing))
}

func firstCause(rep *Report, failing []string) string {
	for _, name := range failing {
		if c := rep.Check(name); c != nil && c.Cause != "" {
			return name + ": " + c.Cause + "."
		}
	}
	return ""
}

func channels(rep *Report, peer netip.Addr, port int, passivePorts, activePorts []int, passiveOK, activeOK bool) []Channel {
	s := peer.String()
	controlOK := false
	if c := rep.Check("control"); c != nil && c.OK {
		controlOK = true
	}
	ch := []Channel{
		{Side: "client", For: "control", Seen: controlOK,
			Rule: fmt.Sprintf("allow outbound from local ports > 1023 to %s port %d", s, port)},
		{Side: "server", For: "control", Seen: controlOK,
			Rule: fmt.Sprintf("allow inbound to port %d from anywhere (clients connect from ports > 1023)", port)},
	}
	ports := "the passive port range (no port seen in this run; see the server's passive port setting)"
	if len(passivePorts) > 0 {
		slices.Sort(passivePorts)
		passivePorts = slices.Compact(passivePorts)
		ports = fmt.Sprintf("ports %s (the passive range as inferred from the ports seen: %s; the full range is the server's passive port setting)",
			portSpan(passivePorts), joinInts(passivePorts))
	}
	ch = append(ch,
		Channel{Side: "client", For: "passive", Seen: passiveOK,
			Rule: fmt.Sprintf("allow outbound from local ports > 1023 to %s, %s", s, ports)},
		Channel{Side: "server", For: "passive", Seen: passiveOK,
			Rule: fmt.Sprintf("allow inbound to %s from clients' ports > 1023", ports)},
	)
	from := fmt.Sprintf("%s port 20 (or any port: many servers connect from an ephemeral one)", s)
	srcPort := "port 20 (or any port)"
	if len(activePorts) > 0 {
		slices.Sort(activePorts)
		activePorts = slices.Compact(activePorts)
		if len(activePorts) == 1 && activePorts[0] == 20 {
			from, srcPort = s+" port 20", "port 20"
		} else {
			from = fmt.Sprintf("%s (any source port: it does not use port 20; seen: %s)", s, joinInts(activePorts))
			srcPort = "any local port (it does not use port 20)"
		}
	}
	ch = append(ch,
		Channel{Side: "client", For: "active", Seen: activeOK,
			Rule: fmt.Sprintf("allow inbound from %s to local ports > 1023 (behind NAT: forward them, and announce the public address)", from)},
		Channel{Side: "server", For: "active", Seen: activeOK,
			Rule: fmt.Sprintf("allow outbound from %s to clients' ports > 1023", srcPort)},
	)
	return ch
}

func portSpan(ports []int) string {
	if ports[0] == ports[len(ports)-1] {
		return strconv.Itoa(ports[0])
	}
	return fmt.Sprintf("%d-%d", ports[0], ports[len(ports)-1])
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
