package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/storage"
)

// Config is everything a Server needs. The zero value of each field means
// the documented default; internal/config builds a Config from the TOML
// file and flags and validates it before anything listens.
type Config struct {
	// Banner is the text of the 220 greeting. Default "ferry FTP server ready."
	Banner string

	// Auth checks credentials and returns the user's view of storage.
	Auth Authenticator

	// TLS is the certificate configuration for AUTH TLS and implicit-TLS
	// listeners; nil disables FTPS. MinVersion below TLS 1.2 is raised.
	TLS *tls.Config
	// RequireTLSLogin refuses USER/PASS on a plain control connection (534/530).
	RequireTLSLogin bool
	// RequireTLSData refuses transfers unless PROT P is in force (521/534).
	RequireTLSData bool
	// TLSReuse decides whether protected data connections must resume the
	// control connection's TLS session (default TLSReuseAllow: log only).
	TLSReuse TLSReuse

	// Passive data connections.
	PassivePorts ftp.PortRange // empty: a default range (see DefaultPassivePorts)
	// Advertise decides the address put in PASV replies; nil: the control
	// connection's local address.
	Advertise Advertiser
	// PassiveAnyPeer lets a passive data connection come from an address
	// other than the control connection's peer (FXP). Off by default:
	// strangers are dropped and the listener keeps waiting.
	PassiveAnyPeer bool
	// PassivePortMap maps an allocated local port to the port advertised,
	// for routers that forward public ports to different private ones.
	// Empty: advertise the local port.
	PassivePortMap ftp.PortMap

	// Active data connections.
	DisableActive bool
	// ActiveAnyPeer turns bounce protection off: PORT/EPRT may then name
	// another host and ports below 1024. Off by default.
	ActiveAnyPeer bool
	// ActiveFromPort20 binds the source of active connections to the
	// control port minus one (20 for 21) when the process may; else an
	// ephemeral source port is used and a warning is logged once.
	ActiveFromPort20 bool

	// Timeouts. Zero means the default in parentheses.
	IdleTimeout        time.Duration // control connection idle, between commands (5m)
	LoginTimeout       time.Duration // from connect to successful login (1m)
	DataConnectTimeout time.Duration // active connect / passive accept (30s)
	DataStallTimeout   time.Duration // no byte moved on a data connection (2m)

	// Limits. Zero means the default in parentheses; negative means none.
	MaxSessions      int // in total (500)
	MaxSessionsPerIP int // per client IP (20)
	// MaxSessionsPerUser: logged-in sessions of one user; 0: no limit.
	MaxSessionsPerUser int
	// CommandRate limits commands per second per session (bursts of
	// CommandBurst, default 2×rate); a client above it is slowed, not
	// cut. 0: no limit.
	CommandRate  float64
	CommandBurst int
	// DownloadRate and UploadRate cap the whole server's transfers in
	// bytes per second; 0: no cap. Per-user caps are in User.
	DownloadRate, UploadRate int64
	MaxLineLength            int           // command line bytes (4096)
	FailedLoginDelay         time.Duration // pause before answering a failed PASS (1s), growing with failures
	MaxLoginAttempts         int           // failed PASS per session before disconnect (3)
	Ban                      BanPolicy     // temporary bans after repeated failures (DefaultBanPolicy; After < 0: off)
	AtomicUploads            bool          // upload to a hidden temporary, rename on success
	ListHidden               bool          // LIST shows dot files without -a (most clients expect it)
	// MinRate, when positive, cuts a transfer that moves fewer than
	// MinRate bytes per second over MinRateWindow (30s): a client that
	// trickles just enough to escape the stall rule cannot hold a slot
	// and a passive port for ever. Off by default.
	MinRate       int64
	MinRateWindow time.Duration
	// MaxDepth bounds how deep MKD (and RNTO of a directory) may nest
	// directories below a user's root (64), so that the start-up sweep
	// of upload temporaries and every other walker covers the whole tree.
	MaxDepth int

	// Logger receives session, login and transfer records; nil discards.
	Logger *slog.Logger
}

// DefaultPassivePorts is used when Config.PassivePorts is empty: small
// enough for a firewall rule, large enough for a busy server.
var DefaultPassivePorts = ftp.PortRange{Min: 50000, Max: 50100}

// Advertiser chooses the IPv4 address a PASV reply names. local is the
// control connection's local address, remote its peer. An Advertiser must
// be safe for concurrent use.
type Advertiser interface {
	Advertise(ctx context.Context, local, remote netip.Addr) (netip.Addr, error)
}

// Authenticator checks a login. It returns ErrBadLogin (possibly wrapped)
// for wrong credentials; other errors are failures of the user store.
// An anonymous login arrives as the user "anonymous" (or "ftp").
type Authenticator interface {
	Authenticate(ctx context.Context, req LoginRequest) (*User, error)
}

// ErrBadLogin is returned by an Authenticator for wrong credentials, an
// unknown user or a disabled account alike, so that replies never tell them apart.
var ErrBadLogin = errors.New("bad login")

// LoginRequest is what a client offered at login.
type LoginRequest struct {
	User     string
	Password string
	Remote   netip.Addr
	TLS      bool // the control connection is protected
	// Refuse says the server will refuse this login whatever the
	// credentials (the name is locked after failed logins from several
	// addresses). The Authenticator still checks them at full cost,
	// without any cache of verified credentials, so that the time of the
	// reply tells nothing about the password, and must not succeed.
	Refuse bool
}

// User is a logged-in account: its storage root and what it may do.
type User struct {
	Name  string
	FS    storage.FS
	Perms Perm
	// Anonymous marks the anonymous account, for logs and replies.
	Anonymous bool
	// DownloadRate and UploadRate cap this user's transfers in bytes per
	// second, shared by all of the user's sessions; 0: no cap.
	DownloadRate, UploadRate int64
	// Quota caps the bytes and files the user may store; zero: none.
	Quota Quota
}

// Perm is a set of permissions granted to a user.
type Perm uint16

// Permissions, a bit each; the users file names them (internal/auth).
const (
	PermList Perm = 1 << iota
	PermDownload
	PermUpload
	PermOverwrite
	PermDelete
	PermRename
	PermMkdir
	PermRmdir
	PermChmod

	PermReadOnly = PermList | PermDownload
	PermAll      = PermList | PermDownload | PermUpload | PermOverwrite | PermDelete |
		PermRename | PermMkdir | PermRmdir | PermChmod
)

// Has reports whether every bit of q is in p.
func (p Perm) Has(q Perm) bool { return p&q == q }
