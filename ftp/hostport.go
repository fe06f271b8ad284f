package ftp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Errors returned by the host-port parsers.
var (
	ErrBadHostPort = errors.New("malformed host-port")
	ErrBadProtocol = errors.New("unsupported network protocol") // EPRT/EPSV protocol number other than 1 or 2
)

// ParseHostPort parses the RFC 959 host-port "h1,h2,h3,h4,p1,p2" used by
// PORT and the PASV reply. Each number is 0-255; the port is p1*256+p2.
func ParseHostPort(s string) (netip.AddrPort, error) {
	s = strings.TrimSpace(s)
	var n [6]byte
	for i := 0; i < 6; i++ {
		var field string
		if i < 5 {
			var ok bool
			field, s, ok = strings.Cut(s, ",")
			if !ok {
				return netip.AddrPort{}, ErrBadHostPort
			}
		} else {
			field = s
		}
		field = strings.TrimSpace(field)
		if field == "" || len(field) > 3 {
			return netip.AddrPort{}, ErrBadHostPort
		}
		v, err := strconv.ParseUint(field, 10, 8)
		if err != nil {
			return netip.AddrPort{}, ErrBadHostPort
		}
		n[i] = byte(v)
	}
	addr := netip.AddrFrom4([4]byte{n[0], n[1], n[2], n[3]})
	return netip.AddrPortFrom(addr, uint16(n[4])<<8|uint16(n[5])), nil
}

// FormatHostPort formats an IPv4 address and port as "h1,h2,h3,h4,p1,p2".
// An IPv4-mapped IPv6 address is unmapped; any other IPv6 address is an
// error, since PORT and PASV cannot carry it (RFC 2428 exists for that).
func FormatHostPort(ap netip.AddrPort) (string, error) {
	a := ap.Addr().Unmap()
	if !a.Is4() {
		return "", fmt.Errorf("%w: %s is not IPv4", ErrBadHostPort, a)
	}
	b := a.As4()
	p := ap.Port()
	return fmt.Sprintf("%d,%d,%d,%d,%d,%d", b[0], b[1], b[2], b[3], p>>8, p&0xff), nil
}

// ParsePASVReply extracts the host-port from the text of a 227 reply.
// RFC 959 does not fix the text around the numbers and servers differ
// ("Entering Passive Mode (h1,...)", "=h1,...", no parentheses), so, as
// RFC 1123 4.1.2.6 advises, scan for the first run of six comma-separated
// numbers. A run that continues a longer list of numbers ("1,2,3,4,5,6,7")
// is not taken apart, and a run longer than any host-port could be is not
// tried, which keeps the scan linear in the length of a hostile reply.
func ParsePASVReply(msg string) (netip.AddrPort, error) {
	const maxRun = 64 // "255, 255, 255, 255, 255, 255" with room for odd spacing
	for i := 0; i < len(msg); i++ {
		if !isDigit(msg[i]) || (i > 0 && isDigit(msg[i-1])) {
			continue
		}
		if prev := strings.TrimRight(msg[:i], " "); prev != "" && prev[len(prev)-1] == ',' {
			continue
		}
		j := i
		for j < len(msg) && j-i <= maxRun && (isDigit(msg[j]) || msg[j] == ',' || msg[j] == ' ') {
			j++
		}
		if j-i > maxRun {
			continue
		}
		if ap, err := ParseHostPort(strings.TrimRight(msg[i:j], ", ")); err == nil {
			return ap, nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("%w in PASV reply %q", ErrBadHostPort, msg)
}

// ParseEPRT parses the RFC 2428 EPRT argument "<d><proto><d><addr><d><port><d>",
// where <d> is any printable ASCII delimiter, proto is 1 (IPv4) or 2 (IPv6).
func ParseEPRT(arg string) (netip.AddrPort, error) {
	if len(arg) < 7 { // "|1|a|1|" is the shortest form that could parse
		return netip.AddrPort{}, ErrBadHostPort
	}
	d := arg[0]
	if d < 33 || d > 126 {
		return netip.AddrPort{}, ErrBadHostPort
	}
	parts := strings.Split(arg, string(d))
	// A well-formed argument splits into "", proto, addr, port, "".
	if len(parts) != 5 || parts[0] != "" || parts[4] != "" {
		return netip.AddrPort{}, ErrBadHostPort
	}
	// The protocol is checked before the address, whose form depends on
	// it: an unknown protocol must get 522 (RFC 2428 section 2) even if
	// its address is not one we can parse, and an empty or non-numeric
	// field is a syntax error, not a protocol we lack.
	proto := parts[1]
	if proto != "1" && proto != "2" {
		if len(proto) <= 3 && isNumber(proto) {
			return netip.AddrPort{}, ErrBadProtocol
		}
		return netip.AddrPort{}, ErrBadHostPort
	}
	addr, err := netip.ParseAddr(parts[2])
	if err != nil || addr.Zone() != "" {
		return netip.AddrPort{}, ErrBadHostPort
	}
	if proto == "1" && !addr.Is4() || proto == "2" && (!addr.Is6() || addr.Is4In6()) {
		return netip.AddrPort{}, ErrBadHostPort
	}
	port, err := parsePort(parts[3])
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(addr, port), nil
}

// FormatEPRT formats an address and port as an EPRT argument with "|" as
// the delimiter.
func FormatEPRT(ap netip.AddrPort) string {
	a := ap.Addr().Unmap()
	proto := "2"
	if a.Is4() {
		proto = "1"
	}
	return "|" + proto + "|" + a.String() + "|" + strconv.Itoa(int(ap.Port())) + "|"
}

// FormatEPSVReply returns the text of a 229 reply for port.
func FormatEPSVReply(port uint16) string {
	return "Entering Extended Passive Mode (|||" + strconv.Itoa(int(port)) + "|)"
}

// ParseEPSVReply extracts the port from the text of a 229 reply:
// "(<d><d><d><port><d>)" with any printable delimiter.
func ParseEPSVReply(msg string) (uint16, error) {
	open := strings.IndexByte(msg, '(')
	if open < 0 {
		return 0, fmt.Errorf("%w in EPSV reply %q", ErrBadHostPort, msg)
	}
	rest := msg[open+1:]
	end := strings.IndexByte(rest, ')')
	if end < 0 || end < 5 {
		return 0, fmt.Errorf("%w in EPSV reply %q", ErrBadHostPort, msg)
	}
	rest = rest[:end]
	d := rest[0]
	if rest[1] != d || rest[2] != d || rest[len(rest)-1] != d {
		return 0, fmt.Errorf("%w in EPSV reply %q", ErrBadHostPort, msg)
	}
	p, err := parsePort(rest[3 : len(rest)-1])
	if err != nil {
		return 0, fmt.Errorf("%w in EPSV reply %q", ErrBadHostPort, msg)
	}
	return p, nil
}

// EPSVArg is the meaning of an EPSV argument (RFC 2428 section 3).
type EPSVArg int

const (
	EPSVAny  EPSVArg = iota // no argument: the control connection's protocol
	EPSVIPv4                // "1"
	EPSVIPv6                // "2"
	EPSVAll                 // "ALL": from now on only EPSV may set up data connections
)

// ParseEPSVArg parses the argument of EPSV. An unknown protocol number
// returns ErrBadProtocol, which the server answers with 522.
func ParseEPSVArg(arg string) (EPSVArg, error) {
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "":
		return EPSVAny, nil
	case "1":
		return EPSVIPv4, nil
	case "2":
		return EPSVIPv6, nil
	case "ALL":
		return EPSVAll, nil
	}
	if _, err := strconv.Atoi(strings.TrimSpace(arg)); err == nil {
		return 0, ErrBadProtocol
	}
	return 0, ErrBadHostPort
}

func parsePort(s string) (uint16, error) {
	if s == "" || len(s) > 5 {
		return 0, ErrBadHostPort
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, ErrBadHostPort
		}
	}
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil || v == 0 {
		return 0, ErrBadHostPort
	}
	return uint16(v), nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
