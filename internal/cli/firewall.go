package cli

import (
	"fmt"
	"slices"

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
	spec, err := firewall.FromConfig(cfg)
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

func loopbackOnly(s firewall.Spec) bool {
	for _, ap := range slices.Concat(s.Control, s.Implicit) {
		if !ap.Addr().IsLoopback() {
			return false
		}
	}
	return true
}
