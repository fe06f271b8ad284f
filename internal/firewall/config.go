package firewall

import (
	"errors"
	"fmt"

	"github.com/ferry-ftp/ferry/internal/config"
	"github.com/ferry-ftp/ferry/server"
)

// FromConfig builds the Spec of a configuration, after the command
// line's overrides. It parses only the keys the firewall depends on
// (listen, passive.ports, passive.port_map_to, active), so that rules can
// be written on a machine without the server's certificate or users
// file; errors name the key.
func FromConfig(c *config.Config) (Spec, error) {
	var s Spec
	var errs []error
	for i, l := range c.Listen {
		ap, err := config.ParseListen(l.Address)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("listen[%d].address: %w", i, err))
			continue
		case ap.Port() == 0:
			errs = append(errs, fmt.Errorf("listen[%d].address: port 0 is chosen at start, a firewall needs a fixed port", i))
			continue
		}
		if l.ImplicitTLS {
			s.Implicit = append(s.Implicit, ap)
		} else {
			s.Control = append(s.Control, ap)
		}
	}
	ports, err := config.ParsePortRange(c.Passive.Ports)
	if err != nil {
		errs = append(errs, fmt.Errorf("passive.ports: %w", err))
	}
	s.Passive = ports
	if to := c.Passive.PortMapTo; to != 0 && err == nil {
		last := to + ports.Size() - 1
		if to < 1 || last > 65535 {
			errs = append(errs, fmt.Errorf("passive.port_map_to: %d with the %d ports of passive.ports leaves 1-65535", to, ports.Size()))
		} else {
			s.PassiveAdvertised = server.PortRange{Min: uint16(to), Max: uint16(last)}
		}
	}
	s.Active = c.Active.Enabled
	s.ActiveFromPort20 = c.Active.FromPort20
	s.ActiveAnyPeer = c.Active.AnyPeer
	if err := errors.Join(errs...); err != nil {
		return Spec{}, fmt.Errorf("firewall: %w", err)
	}
	return s, nil
}
