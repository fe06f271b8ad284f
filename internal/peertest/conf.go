package peertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The peers' configurations, written here for the tests (Vsftpd,
// PureFTPd) and for bench, which starts the same servers tuned for
// speed. Nothing in this file needs a test.

// VsftpdConfig is a vsftpd.conf for a standalone vsftpd on 127.0.0.1:
// local users log in through PAM, chrooted to Root and allowed to
// write; no reverse lookups, no seccomp sandbox, UTC times, no
// connection limits. Zero fields keep vsftpd's defaults.
type VsftpdConfig struct {
	Port                   int
	PassiveMin, PassiveMax int
	Root                   string // every local user's root
	AnonRoot               string // anonymous logins' root; "": no anonymous logins
	Banner                 string
	LogFile                string
	Verbose                bool          // log transfers and the protocol dialogue to LogFile
	IdleTimeout            time.Duration // idle_session_timeout, in seconds
	DataTimeout            time.Duration // data_connection_timeout, in seconds

	// TLS is offered when CertFile and KeyFile (PEM) are set.
	CertFile, KeyFile string
	// RequireTLS forces TLS on local users' logins and data, and data
	// connections to resume the control connection's TLS session.
	RequireTLS bool
	// ImplicitTLS makes the control port speak TLS from the first byte.
	ImplicitTLS bool
}

// String returns the configuration file's text.
func (c VsftpdConfig) String() string {
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\n", k, v) }
	kv("listen", "YES")
	kv("listen_ipv6", "NO")
	kv("listen_address", "127.0.0.1")
	kv("listen_port", c.Port)
	kv("background", "NO")
	kv("pasv_enable", "YES")
	kv("pasv_min_port", c.PassiveMin)
	kv("pasv_max_port", c.PassiveMax)
	kv("port_enable", "YES")
	kv("connect_from_port_20", "NO")
	kv("write_enable", "YES")
	// Debian's vsftpd does no reverse lookups (no tcp_wrappers, and no
	// reverse_lookup_enable patch) and no ident, so nothing to turn off.
	kv("seccomp_sandbox", "NO")
	kv("use_localtime", "NO")
	kv("ftpd_banner", c.Banner)
	kv("vsftpd_log_file", c.LogFile)
	kv("xferlog_enable", yesNo(c.Verbose))
	kv("log_ftp_protocol", yesNo(c.Verbose))
	kv("secure_chroot_dir", "/var/run/vsftpd/empty")
	kv("max_clients", 0)
	kv("max_per_ip", 0)
	if c.IdleTimeout > 0 {
		kv("idle_session_timeout", int(c.IdleTimeout.Seconds()))
	}
	if c.DataTimeout > 0 {
		kv("data_connection_timeout", int(c.DataTimeout.Seconds()))
	}
	kv("allow_writeable_chroot", "YES") // the root is the user's and writable
	kv("anonymous_enable", yesNo(c.AnonRoot != ""))
	if c.AnonRoot != "" {
		kv("anon_root", c.AnonRoot)
		kv("no_anon_password", "NO")
	}
	kv("local_enable", "YES")
	kv("local_umask", "022")
	kv("local_root", c.Root)
	kv("chroot_local_user", "YES")
	kv("userlist_enable", "NO")
	kv("pam_service_name", "vsftpd")
	if c.CertFile != "" {
		kv("ssl_enable", "YES")
		kv("rsa_cert_file", c.CertFile)
		kv("rsa_private_key_file", c.KeyFile)
		if c.AnonRoot != "" {
			kv("allow_anon_ssl", "YES")
		}
		kv("force_local_logins_ssl", yesNo(c.RequireTLS))
		kv("force_local_data_ssl", yesNo(c.RequireTLS))
		kv("require_ssl_reuse", yesNo(c.RequireTLS))
		kv("ssl_ciphers", "HIGH")
		if c.ImplicitTLS {
			kv("implicit_ssl", "YES")
		}
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

// PureFTPdDir is where scripts/install-test-deps.sh unpacks Pure-FTPd,
// outside PATH because its package conflicts with vsftpd's.
const PureFTPdDir = "/opt/ferry-peers/pure-ftpd/usr"

// PureFTPdConfig is a command line for a pure-ftpd on 127.0.0.1 whose
// virtual users come from a PureDB file (see WritePureDB), everyone
// chrooted, no name lookups, IPv4 only, and no logging to syslog. Zero
// fields keep Pure-FTPd's defaults.
type PureFTPdConfig struct {
	Port                   int
	PassiveMin, PassiveMax int
	PureDB                 string
	Anonymous              bool          // allow anonymous logins (into the home of the system user ftp)
	MaxClients             int           // sessions in all
	MaxClientsPerIP        int           // sessions from one address
	MaxIdle                time.Duration // whole minutes
	MaxListing             int           // entries a listing returns (--limitrecursion N:5)
	Verbose                bool          // log every command
	NoChmod                bool          // refuse SITE CHMOD
	TransferLog            string        // a file for a line per transfer; "": none

	// TLS is offered when CertFile and KeyFile (PEM) are set;
	// RequireTLS refuses logins without it (--tls 2, else 1).
	CertFile, KeyFile string
	RequireTLS        bool
}

// Args returns the arguments for pure-ftpd.
func (c PureFTPdConfig) Args() []string {
	args := []string{
		"--bind", "127.0.0.1," + strconv.Itoa(c.Port),
		"--passiveportrange", fmt.Sprintf("%d:%d", c.PassiveMin, c.PassiveMax),
		"--login", "puredb:" + c.PureDB,
	}
	if !c.Anonymous {
		args = append(args, "--noanonymous")
	}
	args = append(args, "--dontresolve", "--chrooteveryone", "--minuid", "1")
	if c.MaxClients > 0 {
		args = append(args, "--maxclientsnumber", strconv.Itoa(c.MaxClients))
	}
	if c.MaxClientsPerIP > 0 {
		args = append(args, "--maxclientsperip", strconv.Itoa(c.MaxClientsPerIP))
	}
	if c.MaxIdle > 0 {
		args = append(args, "--maxidletime", strconv.Itoa(int(c.MaxIdle.Minutes())))
	}
	if c.MaxListing > 0 {
		args = append(args, "--limitrecursion", strconv.Itoa(c.MaxListing)+":5")
	}
	args = append(args, "--syslogfacility", "none")
	if c.Verbose {
		args = append(args, "--verboselog")
	}
	args = append(args, "--ipv4only", "--customerproof")
	if c.NoChmod {
		args = append(args, "--nochmod")
	}
	if c.TransferLog != "" {
		args = append(args, "--altlog", "stats:"+c.TransferLog)
	}
	if c.CertFile != "" {
		level := "1"
		if c.RequireTLS {
			level = "2"
		}
		args = append(args, "--tls", level, "--certfile", c.CertFile+","+c.KeyFile)
	}
	return args
}

// WritePureDB writes dir/pureftpd.pdb, a Pure-FTPd database of one
// virtual user with a crypt(3) password hash, running as uid and gid
// and chrooted at root, and returns its path.
func WritePureDB(dir, user, hash string, uid, gid int, root string) (string, error) {
	passwd := filepath.Join(dir, "pureftpd.passwd")
	pdb := filepath.Join(dir, "pureftpd.pdb")
	// The line is pure-pw's passwd format.
	line := fmt.Sprintf("%s:%s:%d:%d::%s/./::::::::::::\n", user, hash, uid, gid, root)
	if err := os.WriteFile(passwd, []byte(line), 0o600); err != nil {
		return "", err
	}
	os.Remove(pdb)
	if out, err := exec.Command(filepath.Join(PureFTPdDir, "bin", "pure-pw"), "mkdb", pdb, "-f", passwd).CombinedOutput(); err != nil {
		return "", fmt.Errorf("pure-pw mkdb: %v\n%s", err, out)
	}
	return pdb, nil
}
