package ftp

// PortRange is an inclusive range of TCP ports, such as the passive range
// a server binds its data listeners in; the zero value is empty. The
// server, the client and the firewall-rule writer all speak of ports in
// these terms, so the type lives with the rest of the wire vocabulary.
type PortRange struct {
	Min, Max uint16
}

// Size returns how many ports the range holds: 0 when Min is 0 or the
// range is reversed.
func (r PortRange) Size() int {
	if r.Min == 0 || r.Max < r.Min {
		return 0
	}
	return int(r.Max) - int(r.Min) + 1
}

// Contains reports whether p is in the range.
func (r PortRange) Contains(p uint16) bool { return r.Size() > 0 && p >= r.Min && p <= r.Max }

// PortMap translates local passive ports to the ones a PASV or EPSV reply
// names, for a router that forwards public ports to different private
// ones: the local range From maps one-to-one onto the range starting at
// To. The zero value maps every port to itself.
type PortMap struct {
	From PortRange
	To   uint16
}

// Map returns the advertised port for a local one; a port outside From
// is advertised as it is.
func (m PortMap) Map(local uint16) uint16 {
	if m.To == 0 || !m.From.Contains(local) {
		return local
	}
	return m.To + (local - m.From.Min)
}
