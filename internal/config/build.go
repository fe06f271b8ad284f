package config

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/auth"
	"github.com/ferry-ftp/ferry/server"
	"github.com/ferry-ftp/ferry/storage"
	"github.com/ferry-ftp/ferry/storage/local"
)

// Built is what a valid Config turns into.
type Built struct {
	Server server.Config
	// Store is the Authenticator in Server.Auth, kept for Reload (SIGHUP)
	// and for the start-up sweep of its roots.
	Store *auth.Store
	// Listen are the parsed [[listen]] addresses, in order.
	Listen []netip.AddrPort
	// ShutdownGrace is how long a graceful stop lets transfers run
	// (timeouts.shutdown_grace): the deadline of the context given to
	// Server.Shutdown, which is the caller's to choose, not the server's.
	ShutdownGrace time.Duration
	// Warnings are likely mistakes that do not stop the server.
	Warnings []string
}

// Build validates c and builds the server's configuration: it loads
// the TLS key pair, the users file and the advertiser. The logger goes
// into the server.Config.
func (c *Config) Build(ctx context.Context, logger *slog.Logger) (*Built, error) {
	if err := c.Validate(ctx); err != nil {
		return nil, err
	}
	ports, _ := ParsePortRange(c.Passive.Ports) // checked by Validate
	sc := server.Config{
		RequireTLSLogin:    c.TLS.RequireForLogin,
		RequireTLSData:     c.TLS.RequireForData,
		PassivePorts:       ports,
		PassiveAnyPeer:     c.Passive.AnyPeer,
		DisableActive:      !c.Active.Enabled,
		ActiveAnyPeer:      c.Active.AnyPeer,
		ActiveFromPort20:   c.Active.FromPort20,
		IdleTimeout:        time.Duration(c.Timeouts.Idle),
		LoginTimeout:       time.Duration(c.Timeouts.Login),
		DataConnectTimeout: time.Duration(c.Timeouts.DataConnect),
		DataStallTimeout:   time.Duration(c.Timeouts.DataStall),
		MaxSessions:        c.Limits.MaxSessions,
		MaxSessionsPerIP:   c.Limits.MaxPerIP,
		MaxSessionsPerUser: c.Limits.MaxPerUser,
		CommandRate:        c.Limits.CommandRate,
		CommandBurst:       c.Limits.CommandBurst,
		DownloadRate:       c.Limits.DownloadRate,
		UploadRate:         c.Limits.UploadRate,
		MaxLineLength:      c.Limits.MaxLine,
		MaxDepth:           c.Limits.MaxDepth,
		MinRate:            c.Limits.MinRate,
		MinRateWindow:      time.Duration(c.Limits.MinRateWindow),
		FailedLoginDelay:   time.Duration(c.Limits.FailedLoginDelay),
		MaxLoginAttempts:   c.Limits.MaxLoginAttempts,
		Ban:                banPolicy(c.Limits),
		AtomicUploads:      c.Uploads.Atomic,
		ListHidden:         true,
		Logger:             logger,
	}
	if c.cert != nil {
		v, _ := tlsVersion(c.TLS.MinVersion)
		sc.TLSReuse, _ = sessionReuse(c.TLS.SessionReuse) // checked by Validate
		sc.TLS = &tls.Config{Certificates: []tls.Certificate{*c.cert}, MinVersion: v}
	}
	if c.Passive.PortMapTo != 0 {
		sc.PassivePortMap = ftp.PortMap{From: ports, To: uint16(c.Passive.PortMapTo)}
	}
	sc.Advertise = c.advertiser()

	opts := auth.Options{UsersFile: c.Path(c.Users.File), Open: openHome}
	for _, q := range c.Users.Quick {
		opts.Quick = append(opts.Quick, auth.QuickUser{Name: q.Name, Password: q.Password, Home: q.Home})
	}
	if c.Anonymous.Enabled {
		perms, _ := auth.ParsePerms(c.Anonymous.Permissions) // checked by Validate
		opts.Anonymous = &auth.Anonymous{Root: c.Path(c.Anonymous.Root), Perms: perms,
			DownloadRate: c.Anonymous.DownloadRate, UploadRate: c.Anonymous.UploadRate}
	}
	store, err := auth.New(opts)
	if err != nil {
		return nil, fmt.Errorf("users.file: %w", err)
	}
	sc.Auth = store
	if floor := time.Duration(c.Users.FailureFloor); floor > 0 {
		sc.Auth = &auth.FailureFloor{Auth: store, Min: floor}
	}

	b := &Built{Server: sc, Store: store, ShutdownGrace: time.Duration(c.Timeouts.ShutdownGrace)}
	for _, l := range c.Listen {
		ap, _ := ParseListen(l.Address) // checked by Validate
		b.Listen = append(b.Listen, ap)
	}
	b.Warnings = c.warnings(b.Listen, ports, store.Len()+len(c.Users.Quick) > 0)
	for _, root := range store.Roots() {
		if err := isDir(root); err != nil {
			b.Warnings = append(b.Warnings, fmt.Sprintf("home %s: %v: logins of its users will fail", root, err))
		}
	}
	return b, nil
}

// openHome opens a user's home (or the anonymous root) as storage: a
// directory on the local disk, the one backend the configuration offers.
func openHome(root string) (storage.FS, error) {
	fsys, err := local.New(root)
	if err != nil {
		return nil, err // not a nil *local.FS in a non-nil storage.FS
	}
	return fsys, nil
}

// advertiser builds what PASV replies name: the fixed or DNS-resolved
// passive.address, under the split-horizon rules of passive.networks.
func (c *Config) advertiser() server.Advertiser {
	var base server.Advertiser
	switch {
	case c.Passive.Address == "":
	case c.passiveAddr.IsValid() && c.passiveAddr.String() == c.Passive.Address:
		base = server.FixedAdvertiser(c.passiveAddr)
	default:
		base = server.NewDNSAdvertiser(c.Passive.Address, time.Duration(c.Passive.AddressRefresh), nil)
	}
	if len(c.Passive.Networks) == 0 {
		return base
	}
	h := server.SplitHorizon{Default: base}
	for _, n := range c.Passive.Networks {
		h.Rules = append(h.Rules, server.NetworkRule{
			Clients: netip.MustParsePrefix(n.Clients), // checked by Validate
			Address: netip.MustParseAddr(n.Address).Unmap(),
		})
	}
	return h
}

// banPolicy maps limits.ban_* to the server's policy: ban_after 0 (or
// less) turns bans off, where the server's zero value means its default.
func banPolicy(l Limits) server.BanPolicy {
	if l.BanAfter <= 0 {
		return server.BanPolicy{After: -1}
	}
	return server.BanPolicy{After: l.BanAfter, Window: time.Duration(l.BanWindow), For: time.Duration(l.BanFor)}
}
