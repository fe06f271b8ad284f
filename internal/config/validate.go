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
	"slices"
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
	return errors.Join(slices.Concat(
		c.validateListen(),
		c.validateTLS(),
		c.validateProcess(),
		c.validatePassive(ctx),
		c.validateTimeouts(),
		c.validateLimits(),
		c.validateUsers(),
		c.validateAnonymous(),
		c.validateLog(),
	)...)
}

// problems collects the errors of one section, each naming its key.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (c *Config) validateListen() []error {
	var p problems
	if len(c.Listen) == 0 {
		p.add("listen", "no listener")
	}
	for i, l := range c.Listen {
		if _, err := ParseListen(l.Address); err != nil {
			p.add(fmt.Sprintf("listen[%d].address", i), "%v", err)
			continue
		}
		if l.ImplicitTLS && !c.TLS.Enabled() {
			p.add(fmt.Sprintf("listen[%d].implicit_tls", i), "needs [tls] cert_file and key_file")
		}
	}
	return p
}

// controlPorts are the fixed ports of the listeners whose address
// parses, each with its key.
func (c *Config) controlPorts() map[uint16]string {
	ports := map[uint16]string{}
	for i, l := range c.Listen {
		if ap, err := ParseListen(l.Address); err == nil && ap.Port() != 0 {
			ports[ap.Port()] = fmt.Sprintf("listen[%d].address", i)
		}
	}
	return ports
}

func (c *Config) validateProcess() []error {
	var p problems
	if c.Process.RunAs != "" {
		if _, err := user.Lookup(c.Process.RunAs); err != nil {
			p.add("process.run_as", "no such user %q", c.Process.RunAs)
		}
	}
	return p
}

// validatePassive also resolves passive.address for Build.
func (c *Config) validatePassive(ctx context.Context) []error {
	var p problems
	ports, err := ParsePortRange(c.Passive.Ports)
	if err != nil {
		p.add("passive.ports", "%v", err)
	} else {
		for port, key := range c.controlPorts() {
			if ports.Contains(port) {
				p.add("passive.ports", "range %s contains the control port %d of %s", c.Passive.Ports, port, key)
			}
		}
	}
	if c.Passive.Address != "" {
		addr, err := c.resolve(ctx, c.Passive.Address)
		if err != nil {
			p.add("passive.address", "%v", err)
		}
		c.passiveAddr = addr
	}
	p.duration("passive.address_refresh", c.Passive.AddressRefresh)
	if to := c.Passive.PortMapTo; to != 0 {
		switch {
		case to < 1 || to > 65535:
			p.add("passive.port_map_to", "port %d out of 1-65535", to)
		case err == nil && to+ports.Size()-1 > 65535:
			p.add("passive.port_map_to", "%d plus the %d ports of passive.ports passes 65535", to, ports.Size())
		}
	}
	for i, n := range c.Passive.Networks {
		key := fmt.Sprintf("passive.networks[%d]", i)
		if _, err := netip.ParsePrefix(n.Clients); err != nil {
			p.add(key+".clients", "%q is not a network such as 10.0.0.0/8", n.Clients)
		}
		if a, err := netip.ParseAddr(n.Address); err != nil || !a.Unmap().Is4() {
			p.add(key+".address", "%q is not an IPv4 address (PASV can name no other)", n.Address)
		}
	}
	return p
}

func (c *Config) validateTimeouts() []error {
	var p problems
	t := c.Timeouts
	p.duration("timeouts.idle", t.Idle)
	p.duration("timeouts.login", t.Login)
	p.duration("timeouts.data_connect", t.DataConnect)
	p.duration("timeouts.data_stall", t.DataStall)
	p.duration("timeouts.shutdown_grace", t.ShutdownGrace)
	return p
}

func (c *Config) validateLimits() []error {
	var p problems
	l := c.Limits
	p.duration("limits.failed_login_delay", l.FailedLoginDelay)
	p.duration("limits.ban_window", l.BanWindow)
	p.duration("limits.ban_for", l.BanFor)
	p.count("limits.max_sessions", l.MaxSessions)
	p.count("limits.max_per_ip", l.MaxPerIP)
	p.count("limits.max_login_attempts", l.MaxLoginAttempts)
	p.count("limits.ban_after", l.BanAfter)
	p.count("limits.max_per_user", l.MaxPerUser)
	p.count("limits.command_burst", l.CommandBurst)
	if l.CommandRate < 0 {
		p.add("limits.command_rate", "negative rate %g", l.CommandRate)
	}
	p.rates("limits", l.DownloadRate, l.UploadRate)
	if m := l.MaxLine; m != 0 && (m < minMaxLine || m > maxMaxLine) {
		p.add("limits.max_line", "%d out of %d-%d", m, minMaxLine, maxMaxLine)
	}
	if l.MinRate < 0 {
		p.add("limits.min_rate", "negative rate %d", l.MinRate)
	}
	p.duration("limits.min_rate_window", l.MinRateWindow)
	if d := l.MaxDepth; d < 0 || d > server.MaxMaxDepth {
		p.add("limits.max_depth", "%d out of 1-%d (0: the default, %d)", d, server.MaxMaxDepth, server.DefaultMaxDepth)
	}
	return p
}

// duration checks that key's duration is not negative.
func (p *problems) duration(key string, d Duration) {
	if d < 0 {
		p.add(key, "negative duration %s", d)
	}
}

// count checks key's count: n, 0 for the default or -1 for no limit.
func (p *problems) count(key string, n int) {
	if n < -1 {
		p.add(key, "%d: use a count, 0 for the default or -1 for none", n)
	}
}

// rates checks a section's download_rate and upload_rate.
func (p *problems) rates(section string, download, upload int64) {
	if download < 0 {
		p.add(section+".download_rate", "negative rate %d", download)
	}
	if upload < 0 {
		p.add(section+".upload_rate", "negative rate %d", upload)
	}
}

// maxFailureFloor bounds users.failure_floor: the server gives one
// authentication 30 s, and a floor near that would turn each failed
// login into a timeout.
const maxFailureFloor = 10 * time.Second

// validateUsers also checks that someone can log in: through
// users.file, --user or [anonymous].
func (c *Config) validateUsers() []error {
	var p problems
	p.duration("users.failure_floor", c.Users.FailureFloor)
	if f := c.Users.FailureFloor; f > Duration(maxFailureFloor) {
		p.add("users.failure_floor", "%s above %s: a floor covers a backend's variance, not the login delay (limits.failed_login_delay)", f, maxFailureFloor)
	}
	if f := c.Users.File; f != "" {
		if _, err := os.Stat(c.Path(f)); err != nil {
			p.add("users.file", "%v", err)
		}
	}
	for i, q := range c.Users.Quick {
		key := fmt.Sprintf("--user[%d]", i)
		if q.Name == "" || q.Password == "" {
			p.add(key, "want NAME:PASSWORD")
		}
		if err := isDir(q.Home); err != nil {
			p.add(key, "home: %v", err)
		}
	}
	if !c.Anonymous.Enabled && c.Users.File == "" && len(c.Users.Quick) == 0 {
		p.add("users", "nobody can log in: set users.file, enable [anonymous] or give --user")
	}
	return p
}

func (c *Config) validateAnonymous() []error {
	var p problems
	a := c.Anonymous
	p.rates("anonymous", a.DownloadRate, a.UploadRate)
	if !a.Enabled {
		return p
	}
	if a.Root == "" {
		p.add("anonymous.root", "required when anonymous.enabled")
	} else if err := isDir(c.Path(a.Root)); err != nil {
		p.add("anonymous.root", "%v", err)
	}
	if _, err := auth.ParsePerms(a.Permissions); err != nil {
		p.add("anonymous.permissions", "%v", err)
	}
	return p
}

func (c *Config) validateLog() []error {
	var p problems
	switch c.Log.Format {
	case "text", "json":
	default:
		p.add("log.format", "%q is not text or json", c.Log.Format)
	}
	if _, err := ParseLevel(c.Log.Level); err != nil {
		p.add("log.level", "%v", err)
	}
	return p
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
