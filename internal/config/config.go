// Package config is ferry's configuration file: typed sections decoded
// from TOML, validated before anything listens, and turned into a
// server.Config by Build.
//
// The lifecycle is Load (or Default), then the CLI's flag overrides, then
// Validate, then Build. Every error names the key it is about, so that
// `ferry serve --check` tells an operator exactly what to fix.
package config

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Config is the whole configuration file. The zero value is not useful:
// start from Default or Load.
type Config struct {
	Listen    []Listen  `toml:"listen"`
	TLS       TLS       `toml:"tls"`
	Passive   Passive   `toml:"passive"`
	Active    Active    `toml:"active"`
	Timeouts  Timeouts  `toml:"timeouts"`
	Limits    Limits    `toml:"limits"`
	Uploads   Uploads   `toml:"uploads"`
	Users     Users     `toml:"users"`
	Anonymous Anonymous `toml:"anonymous"`
	Log       Log       `toml:"log"`
	Process   Process   `toml:"process"`

	// dir is the directory relative paths in the file resolve against:
	// the file's own directory, or the working directory for Default.
	dir string
	// lookup resolves passive.address host names; tests replace it so
	// that they never touch the network.
	lookup lookupFunc
	// Set by Validate for Build: the resolved passive.address and the
	// loaded key pair.
	passiveAddr netip.Addr
	cert        *tls.Certificate
}

// Listen is one [[listen]] control-connection listener.
type Listen struct {
	// Address is host:port; ":2121" listens on every interface.
	Address string `toml:"address"`
	// ImplicitTLS starts every connection with a TLS handshake (FTPS on
	// port 990 by convention) instead of waiting for AUTH TLS.
	ImplicitTLS bool `toml:"implicit_tls"`
}

// TLS is the [tls] section. With no certificate, FTPS is off.
type TLS struct {
	CertFile        string `toml:"cert_file"`
	KeyFile         string `toml:"key_file"`
	RequireForLogin bool   `toml:"require_for_login"`
	RequireForData  bool   `toml:"require_for_data"`
	// MinVersion is "1.2" or "1.3"; older versions are never offered.
	MinVersion string `toml:"min_version"`
	// SessionReuse is whether a protected data connection must resume
	// the control connection's TLS session: "allow" (log those that do
	// not), "enforce" (refuse them) or "off".
	SessionReuse string `toml:"session_reuse"`
}

// Enabled reports whether a certificate is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Passive is the [passive] section: data connections the client opens.
type Passive struct {
	// Ports is the inclusive range "MIN-MAX" passive listeners bind in.
	Ports string `toml:"ports"`
	// Address is what PASV replies name: an IPv4 address or a host name
	// resolved now and every AddressRefresh. Empty: the control
	// connection's local address.
	Address        string   `toml:"address"`
	AddressRefresh Duration `toml:"address_refresh"`
	// AnyPeer allows data connections from other hosts than the client (FXP).
	AnyPeer bool `toml:"any_peer"`
	// PortMapTo is the first port advertised for the range, for a router
	// forwarding public ports onto a different private range; 0: none.
	PortMapTo int `toml:"port_map_to"`
	// Networks pick another address for clients in given networks
	// (split horizon: a LAN address for LAN clients).
	Networks []Network `toml:"networks"`
}

// Network is one [[passive.networks]] rule.
type Network struct {
	Clients string `toml:"clients"` // a prefix such as "10.0.0.0/8"
	Address string `toml:"address"` // the IPv4 address advertised to them
}

// Active is the [active] section: data connections the server opens.
type Active struct {
	Enabled    bool `toml:"enabled"`
	FromPort20 bool `toml:"from_port_20"`
	AnyPeer    bool `toml:"any_peer"`
}

// Timeouts is the [timeouts] section.
type Timeouts struct {
	Idle          Duration `toml:"idle"`
	Login         Duration `toml:"login"`
	DataConnect   Duration `toml:"data_connect"`
	DataStall     Duration `toml:"data_stall"`
	ShutdownGrace Duration `toml:"shutdown_grace"`
}

// Limits is the [limits] section. For the counts, -1 means no limit.
type Limits struct {
	MaxSessions int `toml:"max_sessions"`
	MaxPerIP    int `toml:"max_per_ip"`
	MaxPerUser  int `toml:"max_per_user"` // 0: no limit
	// CommandRate is commands per second per session, in bursts of
	// CommandBurst; 0: no limit.
	CommandRate  float64 `toml:"command_rate"`
	CommandBurst int     `toml:"command_burst"`
	// DownloadRate and UploadRate cap the whole server, in bytes per
	// second; 0: no cap.
	DownloadRate int64 `toml:"download_rate"`
	UploadRate   int64 `toml:"upload_rate"`
	MaxLine      int   `toml:"max_line"`
	// MinRate cuts transfers slower than it (bytes per second) over
	// MinRateWindow; 0: off.
	MinRate       int64    `toml:"min_rate"`
	MinRateWindow Duration `toml:"min_rate_window"`
	// MaxDepth bounds how deep users may nest directories (MKD, RNTO).
	MaxDepth         int      `toml:"max_depth"`
	FailedLoginDelay Duration `toml:"failed_login_delay"`
	MaxLoginAttempts int      `toml:"max_login_attempts"`
	// A client IP with BanAfter failed logins within BanWindow is
	// refused for BanFor; 0: no bans.
	BanAfter  int      `toml:"ban_after"`
	BanWindow Duration `toml:"ban_window"`
	BanFor    Duration `toml:"ban_for"`
}

// Uploads is the [uploads] section.
type Uploads struct {
	// Atomic writes an upload to a hidden temporary and renames it into
	// place on success, so readers never see half a file.
	Atomic bool `toml:"atomic"`
}

// Process is the [process] section.
type Process struct {
	// RunAs is the unprivileged account ferry switches to once its
	// listeners are bound, when started as root (to bind ports below
	// 1024). Empty: keep the starting identity.
	RunAs string `toml:"run_as"`
}

// Users is the [users] section.
type Users struct {
	// File is the users file managed by `ferry user`.
	File string `toml:"file"`
	// FailureFloor is the least time a failed login takes, waited out
	// after the check (auth.FailureFloor); 0, the default: no floor.
	// The users file needs none, every failure costing one full
	// verification; it is for backends whose failures cost less.
	FailureFloor Duration `toml:"failure_floor"`
	// Quick are the --user NAME:PASSWORD accounts of the command line;
	// never in a file, so that no plain password is ever stored.
	Quick []QuickUser `toml:"-"`
}

// QuickUser is an account given on the command line.
type QuickUser struct {
	Name, Password, Home string
}

// Anonymous is the [anonymous] section.
type Anonymous struct {
	Enabled bool   `toml:"enabled"`
	Root    string `toml:"root"`
	// Permissions are names from the users file's vocabulary; the
	// default is read-only: list and download.
	Permissions []string `toml:"permissions"`
	// DownloadRate and UploadRate cap all anonymous sessions together,
	// in bytes per second; 0: no cap.
	DownloadRate int64 `toml:"download_rate"`
	UploadRate   int64 `toml:"upload_rate"`
}

// Log is the [log] section.
type Log struct {
	Format string `toml:"format"` // "text" or "json"
	Level  string `toml:"level"`  // "debug", "info", "warn" or "error"
	File   string `toml:"file"`   // empty: standard error
}

// Default returns the configuration of `ferry serve` without a file:
// loopback only, no TLS, anonymous off (the CLI turns it on for DIR).
// Relative paths resolve against the working directory.
func Default() *Config {
	return &Config{
		Listen:  []Listen{{Address: "127.0.0.1:2121"}},
		TLS:     TLS{MinVersion: "1.2", SessionReuse: "allow"},
		Passive: Passive{Ports: "50000-50100", AddressRefresh: Duration(5 * time.Minute)},
		Active:  Active{Enabled: true},
		Timeouts: Timeouts{
			Idle:          Duration(5 * time.Minute),
			Login:         Duration(time.Minute),
			DataConnect:   Duration(30 * time.Second),
			DataStall:     Duration(2 * time.Minute),
			ShutdownGrace: Duration(30 * time.Second),
		},
		Limits: Limits{
			MaxSessions:      500,
			MaxPerIP:         20,
			MaxLine:          4096,
			MaxDepth:         64,
			MinRateWindow:    Duration(30 * time.Second),
			FailedLoginDelay: Duration(time.Second),
			MaxLoginAttempts: 3,
			BanAfter:         10,
			BanWindow:        Duration(10 * time.Minute),
			BanFor:           Duration(10 * time.Minute),
		},
		Uploads:   Uploads{Atomic: true},
		Anonymous: Anonymous{Permissions: []string{"list", "download"}},
		Log:       Log{Format: "text", Level: "info"},
		dir:       ".",
	}
}

// Load reads the file at path over the defaults. Unknown keys are errors
// that name the key and its line; relative paths in the file resolve
// against the file's directory. Load does not validate.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c := Default()
	// A [[listen]] table in the file replaces the default listener
	// rather than adding to it.
	c.Listen = nil
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, decodeError(path, err)
	}
	if len(c.Listen) == 0 {
		c.Listen = Default().Listen
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.dir = filepath.Dir(abs)
	return c, nil
}

// decodeError rewrites go-toml's errors as "file:line:col: key: problem".
func decodeError(path string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for _, e := range strict.Errors {
			row, col := e.Position()
			errs = append(errs, fmt.Errorf("%s:%d:%d: %s: unknown key", path, row, col, strings.Join(e.Key(), ".")))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if key := de.Key(); len(key) > 0 {
			return fmt.Errorf("%s:%d:%d: %s: %s", path, row, col, strings.Join(key, "."), msg)
		}
		return fmt.Errorf("%s:%d:%d: %s", path, row, col, msg)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// Path resolves a path from the file against the file's directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	dir := c.dir
	if dir == "" {
		dir = "."
	}
	return filepath.Join(dir, p)
}

// Duration is a time.Duration written as a string such as "5m" or "30s".
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as Go does ("5m0s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// String returns the duration as Go writes it.
func (d Duration) String() string { return time.Duration(d).String() }
