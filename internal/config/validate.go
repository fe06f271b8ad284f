package config

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/auth"
	"github.com/ferry-ftp/ferry/server"
)

// lookupFunc has the shape of (*net.Resolver).LookupNetIP.
type lookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// resolveTimeout bounds the lookup of passive.address during validation,
// so that a dead DNS server cannot hang `ferry serve --check`.
const resolveTimeout = 5 * time.Second

// Validate checks every key and returns all problems at once, each
// naming its key. It resolves a passive.address host name (bounded by
// ctx and a timeout) and reads the TLS key pair, so that a Config that
// validates can be built without surprises.
func (c *Config) Validate(ctx context.Context) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	controlPorts := map[uint16]string{}
	if len(c.Listen) == 0 {
		bad("listen", "no listener")
	}
	for i, l := range c.Listen {
		key := fmt.Sprintf("listen[%d].address", i)
		ap, err := ParseListen(l.Address)
		if err != nil {
			bad(key, "%v", err)
			continue
		}
		if ap.Port() != 0 {
			controlPorts[ap.Port()] = key
		}
		if l.ImplicitTLS && !c.TLS.Enabled() {
			bad(fmt.Sprintf("listen[%d].implicit_tls", i), "needs [tls] cert_file and key_file")
		}
	}

	errs = append(errs, c.validateTLS()...)

	if c.Process.RunAs != "" {
		if _, err := user.Lookup(c.Process.RunAs); err != nil {
			bad("process.run_as", "no such user %q", c.Process.RunAs)
		}
	}

	ports, err := ParsePortRange(c.Passive.Ports)
	if err != nil {
		bad("passive.ports", "%v", err)
	} else {
		for p, key := range controlPorts {
			if ports.Contains(p) {
				bad("passive.ports", "range %s contains the control port %d of %s", c.Passive.Ports, p, key)
			}
		}
	}
	if c.Passive.Address != "" {
		addr, err := c.resolve(ctx, c.Passive.Address)
		if err != nil {
			bad("passive.address", "%v", err)
		}
		c.passiveAddr = addr
	}
	if c.Passive.AddressRefresh < 0 {
		bad("passive.address_refresh", "negative duration %s", c.Passive.AddressRefresh)
	}
	if to := c.Passive.PortMapTo; to != 0 {
		switch {
		case to < 1 || to > 65535:
			bad("passive.port_map_to", "port %d out of 1-65535", to)
		case err == nil && to+ports.Size()-1 > 65535:
			bad("passive.port_map_to", "%d plus the %d ports of passive.ports passes 65535", to, ports.Size())
		}
	}
	for i, n := range c.Passive.Networks {
		key := fmt.Sprintf("passive.networks[%d]", i)
		if _, err := netip.ParsePrefix(n.Clients); err != nil {
			bad(key+".clients", "%q is not a network such as 10.0.0.0/8", n.Clients)
		}
		if a, err := netip.ParseAddr(n.Address); err != nil || !a.Unmap().Is4() {
			bad(key+".address", "%q is not an IPv4 address (PASV can name no other)", n.Address)
		}
	}

	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"timeouts.idle", c.Timeouts.Idle},
		{"timeouts.login", c.Timeouts.Login},
		{"timeouts.data_connect", c.Timeouts.DataConnect},
		{"timeouts.data_stall", c.Timeouts.DataStall},
		{"timeouts.shutdown_grace", c.Timeouts.ShutdownGrace},
		{"limits.failed_login_delay", c.Limits.FailedLoginDelay},
		{"limits.ban_window", c.Limits.BanWindow},
		{"limits.ban_for", c.Limits.BanFor},
	} {
		if d.v < 0 {
			bad(d.key, "negative duration %s", d.v)
		}
	}
	for _, n := range []struct {
		key string
		v   int
	}{
		{"limits.max_sessions", c.Limits.MaxSessions},
		{"limits.max_per_ip", c.Limits.MaxPerIP},
		{"limits.max_login_attempts", c.Limits.MaxLoginAttempts},
		{"limits.ban_after", c.Limits.BanAfter},
		{"limits.max_per_user", c.Limits.MaxPerUser},
		{"limits.command_burst", c.Limits.CommandBurst},
	} {
		if n.v < -1 {
			bad(n.key, "%d: use a count, 0 for the default or -1 for none", n.v)
		}
	}
	if c.Limits.CommandRate < 0 {
		bad("limits.command_rate", "negative rate %g", c.Limits.CommandRate)
	}
	for _, r := range []struct {
		key string
		v   int64
	}{
		{"limits.download_rate", c.Limits.DownloadRate},
		{"limits.upload_rate", c.Limits.UploadRate},
		{"anonymous.download_rate", c.Anonymous.DownloadRate},
		{"anonymous.upload_rate", c.Anonymous.UploadRate},
	} {
		if r.v < 0 {
			bad(r.key, "negative rate %d", r.v)
		}
	}
	if m := c.Limits.MaxLine; m != 0 && (m < minMaxLine || m > maxMaxLine) {
		bad("limits.max_line", "%d out of %d-%d", m, minMaxLine, maxMaxLine)
	}

	if f := c.Users.File; f != "" {
		if _, err := os.Stat(c.Path(f)); err != nil {
			bad("users.file", "%v", err)
		}
	}
	for i, q := range c.Users.Quick {
		key := fmt.Sprintf("--user[%d]", i)
		if q.Name == "" || q.Password == "" {
			bad(key, "want NAME:PASSWORD")
		}
		if isDir(q.Home) != nil {
			bad(key, "home: %v", isDir(q.Home))
		}
	}
	if c.Anonymous.Enabled {
		if c.Anonymous.Root == "" {
			bad("anonymous.root", "required when anonymous.enabled")
		} else if err := isDir(c.Path(c.Anonymous.Root)); err != nil {
			bad("anonymous.root", "%v", err)
		}
		if _, err := auth.ParsePerms(c.Anonymous.Permissions); err != nil {
			bad("anonymous.permissions", "%v", err)
		}
	}
	if !c.Anonymous.Enabled && c.Users.File == "" && len(c.Users.Quick) == 0 {
		bad("users", "nobody can log in: set users.file, enable [anonymous] or give --user")
	}

	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
	if _, err := ParseLevel(c.Log.Level); err != nil {
		bad("log.level", "%v", err)
	}
	return errors.Join(errs...)
}

// Bounds of limits.max_line: RFC 959 commands carry path names, so a
// short limit breaks clients; a long one only costs memory per session.
const (
	minMaxLine = 512
	maxMaxLine = 1 << 20
)

func (c *Config) validateTLS() []error {
	var errs []error
	t := c.TLS
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		errs = append(errs, errors.New("tls.key_file: required with tls.cert_file"))
	case t.CertFile == "" && t.KeyFile != "":
		errs = append(errs, errors.New("tls.cert_file: required with tls.key_file"))
	case t.Enabled():
		cert, err := tls.LoadX509KeyPair(c.Path(t.CertFile), c.Path(t.KeyFile))
		if err != nil {
			errs = append(errs, fmt.Errorf("tls.cert_file: %w", err))
		} else {
			c.cert = &cert
		}
	}
	if !t.Enabled() && t.RequireForLogin {
		errs = append(errs, errors.New("tls.require_for_login: needs tls.cert_file and tls.key_file"))
	}
	if !t.Enabled() && t.RequireForData {
		errs = append(errs, errors.New("tls.require_for_data: needs tls.cert_file and tls.key_file"))
	}
	if _, err := tlsVersion(t.MinVersion); err != nil {
		errs = append(errs, fmt.Errorf("tls.min_version: %w", err))
	}
	if _, err := sessionReuse(t.SessionReuse); err != nil {
		errs = append(errs, fmt.Errorf("tls.session_reuse: %w", err))
	}
	return errs
}

func tlsVersion(s string) (uint16, error) {
	switch s {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("%q is not 1.2 or 1.3", s)
}

func sessionReuse(s string) (server.TLSReuse, error) {
	switch s {
	case "", "allow":
		return server.TLSReuseAllow, nil
	case "enforce":
		return server.TLSReuseEnforce, nil
	case "off":
		return server.TLSReuseOff, nil
	}
	return 0, fmt.Errorf("%q is not allow, enforce or off", s)
}

// resolve returns host as an IPv4 address, looking it up if it is a name.
func (c *Config) resolve(ctx context.Context, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Unmap().Is4() {
			return netip.Addr{}, fmt.Errorf("%s is not IPv4 (PASV can name no other)", host)
		}
		return a.Unmap(), nil
	}
	lookup := c.lookup
	if lookup == nil {
		lookup = net.DefaultResolver.LookupNetIP
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := lookup(ctx, "ip4", host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolving %s: %w", host, err)
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%s has no IPv4 address", host)
}

func isDir(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", path)
	}
	return nil
}

// ParsePortRange parses "MIN-MAX" (or a single port) into a range of
// ports in 1-65535.
func ParsePortRange(s string) (ftp.PortRange, error) {
	lo, hi, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found {
		hi = lo
	}
	min, err := parsePort(lo)
	if err != nil {
		return ftp.PortRange{}, err
	}
	max, err := parsePort(hi)
	if err != nil {
		return ftp.PortRange{}, err
	}
	if min == 0 || max == 0 {
		return ftp.PortRange{}, errors.New("port 0 in a range")
	}
	if min > max {
		return ftp.PortRange{}, fmt.Errorf("min %d > max %d", min, max)
	}
	return ftp.PortRange{Min: min, Max: max}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("port %d out of 0-65535", n)
	}
	return uint16(n), nil
}

// ParseListen parses a listener address "IP:PORT" or ":PORT" (every
// interface). Port 0 lets the kernel choose. Host names are refused: a
// listener bound to whatever a name resolved to at start surprises.
func ParseListen(s string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: want IP:PORT", s)
	}
	p, err := parsePort(port)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if host == "" {
		return netip.AddrPortFrom(netip.IPv6Unspecified(), p), nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: host must be an IP address, or empty for every interface", s)
	}
	return netip.AddrPortFrom(a.Unmap(), p), nil
}
