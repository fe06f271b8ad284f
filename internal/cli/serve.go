package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-ftp/ferry/internal/auth"
	"github.com/ferry-ftp/ferry/internal/config"
	"github.com/ferry-ftp/ferry/server"
	"github.com/ferry-ftp/ferry/storage"
)

// ServeCmd is `ferry serve`.
type ServeCmd struct {
	Dir string `arg:"" optional:"" default:"." help:"Directory to serve: the home of --user accounts and, without --config, the anonymous read-only root."`

	Config string `short:"c" type:"path" placeholder:"FILE" help:"Configuration file (TOML, see ferry.example.toml). Flags override its keys."`
	Check  bool   `help:"Load and validate the configuration, print warnings, and exit (0 valid, 2 not) without listening."`

	Listen         []string       `sep:"none" placeholder:"IP:PORT" help:"Control address, repeatable; replaces [[listen]]. Default 127.0.0.1:2121."`
	User           []string       `sep:"none" placeholder:"NAME:PASSWORD" help:"Read-write account whose home is DIR, repeatable. Other local users can see it in the process list: use a users file beyond a quick test."`
	NoAnonymous    bool           `help:"Without --config, refuse anonymous logins (they are read-only on DIR otherwise)."`
	PassivePorts   string         `placeholder:"MIN-MAX" help:"Passive data port range (passive.ports)."`
	PassiveAddress string         `placeholder:"ADDR" help:"IPv4 address or host name named in PASV replies (passive.address)."`
	MaxPerIP       *int           `name:"max-per-ip" placeholder:"N" help:"Sessions per client IP, -1 for no limit (limits.max_per_ip)."`
	IdleTimeout    *time.Duration `placeholder:"DURATION" help:"Idle control connection timeout, e.g. 5m (timeouts.idle)."`
	LogFormat      string         `enum:",text,json" default:"" placeholder:"FORMAT" help:"Log format: text or json (log.format)."`
	LogLevel       string         `enum:",debug,info,warn,error" default:"" placeholder:"LEVEL" help:"Log level: debug, info, warn or error (log.level)."`
	RunAs          string         `placeholder:"USER" help:"Unprivileged account to switch to after binding, when started as root (process.run_as)."`
	BanAfter       *int           `placeholder:"N" help:"Ban a client IP after N failed logins within --ban-window; 0 turns bans off (limits.ban_after, default 10)."`
	BanWindow      *time.Duration `placeholder:"DURATION" help:"Window in which failed logins count (limits.ban_window, default 10m)."`
	BanFor         *time.Duration `placeholder:"DURATION" help:"How long a ban lasts (limits.ban_for, default 10m)."`
}

// defaultShutdownGrace applies when timeouts.shutdown_grace is zero, as
// the configuration's defaults would have it.
const defaultShutdownGrace = 30 * time.Second

// Run serves until ctx is cancelled, then shuts down gracefully.
func (s *ServeCmd) Run(ctx context.Context, env *Env) error {
	cfg, err := s.config()
	if err != nil {
		return usageError{err}
	}
	logger, logFile, err := cfg.Logger(env.Stderr)
	if err != nil {
		return usageError{err}
	}
	defer logFile.Close()
	built, err := cfg.Build(ctx, logger)
	if err != nil {
		return usageError{err}
	}
	defer built.Store.Close()
	warnings := built.Warnings
	if w := rootWarning(os.Geteuid(), cfg.Process.RunAs); w != "" {
		warnings = append(warnings, w)
	}

	if s.Check {
		for _, w := range warnings {
			fmt.Fprintf(env.Stdout, "warning: %s\n", w)
		}
		fmt.Fprintf(env.Stdout, "configuration OK\n")
		return nil
	}
	for _, w := range warnings {
		logger.Warn(w)
	}
	if cfg.Uploads.Atomic {
		removeStaleTemps(ctx, logger, built.Store)
	}

	srv, err := server.New(built.Server)
	if err != nil {
		return usageError{err}
	}
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for _, ap := range built.Listen {
		l, err := net.Listen("tcp", ap.String())
		if err != nil {
			return err
		}
		lns = append(lns, l)
	}
	// Root is needed only to bind ports below 1024: give it up before the
	// first client byte is read.
	if cfg.Process.RunAs != "" {
		if err := dropPrivileges(cfg.Process.RunAs); err != nil {
			return err
		}
		logger.Info("switched to an unprivileged account", "user", cfg.Process.RunAs, "uid", os.Getuid())
	}

	// SIGHUP is caught before anyone can know the server is up.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	errc := make(chan error, len(lns))
	var addrs []net.Addr
	for i, l := range lns {
		implicit := cfg.Listen[i].ImplicitTLS
		go func() {
			if implicit {
				errc <- srv.ServeImplicitTLS(l)
			} else {
				errc <- srv.Serve(l)
			}
		}()
		addrs = append(addrs, l.Addr())
		logger.Info("listening", "addr", l.Addr().String(), "implicit_tls", implicit)
	}
	s.printHints(env, cfg, addrs)
	if env.listening != nil {
		env.listening(addrs)
	}

	running := len(lns)
	for running > 0 {
		select {
		case <-hup:
			err := built.Store.Reload()
			if err != nil {
				logger.Error("users file not reloaded; the previous users stay in force", "err", err)
			} else {
				logger.Info("users file reloaded", "users", built.Store.Len())
			}
			if env.reloaded != nil {
				env.reloaded(err)
			}
		case err := <-errc:
			running--
			if !errors.Is(err, server.ErrServerClosed) {
				srv.Close()
				return fmt.Errorf("serve: %w", err)
			}
		case <-ctx.Done():
			return shutdown(srv, logger, built.ShutdownGrace, errc, running)
		}
	}
	return nil
}

// shutdown stops srv, letting transfers run for grace; a second
// SIGINT or SIGTERM cuts them at once. It waits for the running Serve
// calls to return.
func shutdown(srv *server.Server, logger *slog.Logger, grace time.Duration, errc <-chan error, running int) error {
	if grace <= 0 {
		grace = defaultShutdownGrace
	}
	logger.Info("shutting down", "grace", grace.String())
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	go func() {
		select {
		case <-again:
			logger.Warn("second signal: closing every session now")
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := srv.Shutdown(ctx); err != nil {
		logger.Warn("sessions cut at the end of the grace period", "err", err)
		srv.Close()
	}
	for ; running > 0; running-- {
		<-errc
	}
	logger.Info("stopped")
	return nil
}

// config loads the file (or the defaults for serving DIR) and applies
// the flags over it.
func (s *ServeCmd) config() (*config.Config, error) {
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return nil, err
	}
	if s.Config == "" || len(s.User) > 0 {
		if fi, err := os.Stat(dir); err != nil {
			return nil, err
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("%s is not a directory", s.Dir)
		}
	}
	var cfg *config.Config
	if s.Config != "" {
		if cfg, err = config.Load(s.Config); err != nil {
			return nil, err
		}
	} else {
		cfg = config.Default()
		cfg.Anonymous.Enabled = !s.NoAnonymous
		cfg.Anonymous.Root = dir
	}
	if len(s.Listen) > 0 {
		cfg.Listen = nil
		for _, a := range s.Listen {
			cfg.Listen = append(cfg.Listen, config.Listen{Address: a})
		}
	}
	for _, u := range s.User {
		name, pass, ok := strings.Cut(u, ":")
		if !ok || name == "" || pass == "" {
			return nil, fmt.Errorf("--user %q: want NAME:PASSWORD", name)
		}
		cfg.Users.Quick = append(cfg.Users.Quick, config.QuickUser{Name: name, Password: pass, Home: dir})
	}
	if s.PassivePorts != "" {
		cfg.Passive.Ports = s.PassivePorts
	}
	if s.PassiveAddress != "" {
		cfg.Passive.Address = s.PassiveAddress
	}
	if s.MaxPerIP != nil {
		cfg.Limits.MaxPerIP = *s.MaxPerIP
	}
	if s.IdleTimeout != nil {
		cfg.Timeouts.Idle = config.Duration(*s.IdleTimeout)
	}
	if s.LogFormat != "" {
		cfg.Log.Format = s.LogFormat
	}
	if s.LogLevel != "" {
		cfg.Log.Level = s.LogLevel
	}
	if s.RunAs != "" {
		cfg.Process.RunAs = s.RunAs
	}
	if s.BanAfter != nil {
		cfg.Limits.BanAfter = *s.BanAfter
	}
	if s.BanWindow != nil {
		cfg.Limits.BanWindow = config.Duration(*s.BanWindow)
	}
	if s.BanFor != nil {
		cfg.Limits.BanFor = config.Duration(*s.BanFor)
	}
	return cfg, nil
}

// printHints tells a person how to connect, with commands to paste.
func (s *ServeCmd) printHints(env *Env, cfg *config.Config, addrs []net.Addr) {
	if cfg.Anonymous.Enabled {
		fmt.Fprintf(env.Stdout, "Serving %s to anonymous users (%s).\n",
			cfg.Path(cfg.Anonymous.Root), strings.Join(cfg.Anonymous.Permissions, ", "))
	}
	for i, a := range addrs {
		hp := connectAddr(a)
		scheme, curl := "ftp", "curl"
		if cfg.Listen[i].ImplicitTLS {
			scheme, curl = "ftps", "curl --insecure"
		} else if cfg.TLS.RequireForLogin {
			curl = "curl --ssl-reqd --insecure"
		}
		fmt.Fprintf(env.Stdout, "Connect with:\n")
		if cfg.Anonymous.Enabled {
			fmt.Fprintf(env.Stdout, "  %s %s://%s/\n", curl, scheme, hp)
			fmt.Fprintf(env.Stdout, "  ferry ls %s://%s/\n", scheme, hp)
		}
		for _, q := range cfg.Users.Quick {
			fmt.Fprintf(env.Stdout, "  %s --user %s %s://%s/\n", curl, q.Name, scheme, hp)
			fmt.Fprintf(env.Stdout, "  ferry ls %s://%s@%s/\n", scheme, q.Name, hp)
		}
		if cfg.Users.File != "" {
			fmt.Fprintf(env.Stdout, "  ferry ls %s://NAME@%s/   (accounts of %s)\n", scheme, hp, cfg.Path(cfg.Users.File))
		}
	}
}

// connectAddr is the host:port a local client dials to reach a listener
// on a: the loopback address when it listens on every interface.
func connectAddr(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return a.String()
	}
	ip := ap.Addr().Unmap()
	if ip.IsUnspecified() {
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return netip.AddrPortFrom(ip, ap.Port()).String()
}

// removeStaleTemps deletes the atomic-upload temporaries that a crash
// left under each root of store, on storage that can sweep them
// (storage.TempSweeper). Nothing is serving yet, so every one is stale.
func removeStaleTemps(ctx context.Context, logger *slog.Logger, store *auth.Store) {
	for _, root := range store.Roots() {
		fsys, err := store.OpenRoot(root)
		if err != nil {
			logger.Warn("stale upload sweep skipped", "root", root, "err", err)
			continue
		}
		sw, ok := fsys.(storage.TempSweeper)
		if !ok {
			logger.Warn("stale upload sweep skipped: the storage cannot sweep", "root", root)
		} else {
			n, err := sw.SweepTemps(ctx, storage.UploadTempPrefix, 0)
			if n > 0 {
				logger.Info("removed stale upload temporaries", "root", root, "count", n)
			}
			if err != nil {
				logger.Warn("stale upload sweep incomplete", "root", root, "err", err)
			}
		}
		if c, ok := fsys.(io.Closer); ok {
			c.Close()
		}
	}
}
