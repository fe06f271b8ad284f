package cli

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/config"
	"github.com/ferry-ftp/ferry/internal/firewall"
)

// FirewallCmd is `ferry firewall`: the host-firewall rules that the
// configuration of `ferry serve` needs, printed to stdout. It reads the
// same file and the same overriding flags as serve, so that the rules
// match the server that the same command line would start.
type FirewallCmd struct {
	Format string `required:"" enum:"nftables,iptables,ip6tables,ufw,firewalld" placeholder:"FORMAT" help:"Rules for: nftables (nft -f), iptables or ip6tables (iptables-restore), ufw or firewalld (shell scripts)."`

	Config           string   `short:"c" type:"path" placeholder:"FILE" help:"Configuration file (TOML, see ferry.example.toml). Flags override its keys."`
	Listen           []string `sep:"none" placeholder:"IP:PORT" help:"Control address, repeatable; replaces [[listen]]. Default 127.0.0.1:2121."`
	PassivePorts     string   `placeholder:"MIN-MAX" help:"Passive data port range (passive.ports)."`
	Active           *bool    `negatable:"" help:"Allow active mode, PORT/EPRT (active.enabled)."`
	ActiveFromPort20 *bool    `name:"active-from-port-20" negatable:"" help:"Active data connections leave from the control port minus one (active.from_port_20)."`
	AllowTCP         []uint16 `name:"allow-tcp" sep:"," placeholder:"PORT" help:"Also keep these TCP ports open, e.g. 22 for SSH (nftables and iptables drop all else)."`
}

// Run prints the rules.
func (f *FirewallCmd) Run(env *Env) error {
	cfg, err := f.config()
	if err != nil {
		return usageError{err}
	}
	spec, err := firewallSpec(cfg)
	if err != nil {
		return usageError{err}
	}
	spec.Allow = f.AllowTCP
	if err := spec.Validate(); err != nil {
		return usageError{fmt.Errorf("firewall: %w", err)}
	}
	if loopbackOnly(spec) {
		fmt.Fprintln(env.Stderr, "ferry: every listener is a loopback address: these rules open nothing reachable from other hosts (see --listen)")
	}
	return firewall.Write(env.Stdout, spec, firewall.Format(f.Format))
}

// config loads the file (or the defaults) and applies the flags the way
// `ferry serve` does.
func (f *FirewallCmd) config() (*config.Config, error) {
	cfg := config.Default()
	if f.Config != "" {
		var err error
		if cfg, err = config.Load(f.Config); err != nil {
			return nil, err
		}
	}
	if len(f.Listen) > 0 {
		cfg.Listen = nil
		for _, a := range f.Listen {
			cfg.Listen = append(cfg.Listen, config.Listen{Address: a})
		}
	}
	if f.PassivePorts != "" {
		cfg.Passive.Ports = f.PassivePorts
	}
	if f.Active != nil {
		cfg.Active.Enabled = *f.Active
	}
	if f.ActiveFromPort20 != nil {
		cfg.Active.FromPort20 = *f.ActiveFromPort20
	}
	return cfg, nil
}

// firewallSpec builds the firewall.Spec of a configuration, after the
// command line's overrides. It parses only the keys the firewall depends
// on (listen, passive.ports, passive.port_map_to, active), so that rules
// can be written on a machine without the server's certificate or users
// file; errors name the key. It lives here rather than in
// internal/firewall so that the rule writer knows nothing of the
// configuration, nor, through it, of the server.
func firewallSpec(c *config.Config) (firewall.Spec, error) {
	var s firewall.Spec
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
			s.PassiveAdvertised = ftp.PortRange{Min: uint16(to), Max: uint16(last)}
		}
	}
	s.Active = c.Active.Enabled
	s.ActiveFromPort20 = c.Active.FromPort20
	s.ActiveAnyPeer = c.Active.AnyPeer
	if err := errors.Join(errs...); err != nil {
		return firewall.Spec{}, fmt.Errorf("firewall: %w", err)
	}
	return s, nil
}

func loopbackOnly(s firewall.Spec) bool {
	for _, ap := range slices.Concat(s.Control, s.Implicit) {
		if !ap.Addr().IsLoopback() {
			return false
		}
	}
	return true
}
