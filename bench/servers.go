package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/internal/peertest"
)

// Every server is started with the same settings as far as each allows:
// listening on 127.0.0.1 only, the same account (benchUser, whose home
// and root is env.root), anonymous logins rooted at the same directory,
// a passive range of the same size, no reverse-DNS or ident lookups, no
// per-transfer log, TLS offered but not required, no session limits.

// proFTPdDir is where scripts/install-test-deps.sh unpacks ProFTPD,
// beside Pure-FTPd (peertest.PureFTPdDir), since both conflict with
// vsftpd as packages.
const proFTPdDir = "/opt/ferry-peers/proftpd/usr"

// The system account of the password logins: internal/peertest's,
// created the same way.
const (
	benchUser = peertest.UserName
	benchPass = peertest.Password
)

// passiveRangeSize is the number of passive ports each server gets.
const passiveRangeSize = 1000

// env is what every server is started from.
type env struct {
	work      string // scratch: configs, logs, certificates
	root      string // the password user's root, with the data sets
	anonRoot  string // the anonymous root (the home of the system user "ftp")
	cert, key string // PEM files, one self-signed pair for every server
	uid, gid  int    // benchUser
	shadow    string // benchUser's crypt(3) hash from /etc/shadow
	ferryBin  string
}

// ftpd is a running FTP server under test.
type ftpd struct {
	name string
	addr string
	hash string // how it checks the password user's password, and at what cost
	tls  bool   // offers AUTH TLS
	// maxSessions is the most sessions the server accepts at once here,
	// whatever it was told (0: no such cap).
	maxSessions int
	cmd         *exec.Cmd
	log         string
	exit        chan struct{} // closed when cmd has exited
	inner       func()        // stops an in-process server (see -profile)
}

// pid returns the server's main process, or 0 when it runs in-process.
func (s *ftpd) pid() int {
	if s.cmd == nil {
		return os.Getpid()
	}
	return s.cmd.Process.Pid
}

// stop kills the process started and waits for it. Session processes of
// the forking servers get EOF or SIGHUP-free closes from their clients,
// which the workloads have already closed.
func (s *ftpd) stop() {
	if s.inner != nil {
		s.inner()
		return
	}
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	select {
	case <-s.exit:
	case <-time.After(10 * time.Second):
		fmt.Fprintf(os.Stderr, "bench: %s (pid %d) did not exit\n", s.name, s.cmd.Process.Pid)
	}
}

// serverNames are the servers the harness knows, ferry first.
var serverNames = []string{"ferry", "vsftpd", "pure-ftpd", "proftpd"}

func startServer(ctx context.Context, e *env, name string) (*ftpd, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pmin, err := freePortRange(passiveRangeSize)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &ftpd{name: name, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), tls: true}
	var bin string
	var args []string
	switch name {
	case "ferry":
		bin, args, err = ferryCmd(e, s, dir, port, pmin)
	case "vsftpd":
		bin, args, err = vsftpdCmd(e, s, dir, port, pmin)
	case "pure-ftpd":
		bin, args, err = pureFTPdCmd(e, s, dir, port, pmin)
	case "proftpd":
		bin, args, err = proFTPdCmd(e, s, dir, port, pmin)
	default:
		return nil, fmt.Errorf("unknown server %q (want one of %s)", name, strings.Join(serverNames, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if bin == "" { // in-process ferry
		return s, waitReady(ctx, s)
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: %w (run bench/run.sh, which installs the peers)", name, err)
	}
	s.log = filepath.Join(dir, "output.log")
	out, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s.exit = make(chan struct{})
	go func() { s.cmd.Wait(); out.Close(); close(s.exit) }()
	if err := waitReady(ctx, s); err != nil {
		s.stop()
		b, _ := os.ReadFile(s.log)
		return nil, fmt.Errorf("%s: %w\n%s", name, err, b)
	}
	return s, nil
}

// waitReady polls until the server greets with 220, or exits.
func waitReady(ctx context.Context, s *ftpd) error {
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if s.exit != nil {
			select {
			case <-s.exit:
				return errors.New("exited before it was ready")
			default:
			}
		}
		c, err := dialFTP(ctx, s.addr)
		if err == nil {
			c.quit()
			return nil
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not ready after 15s: %w", last)
}

func ferryCmd(e *env, s *ftpd, dir string, port, pmin int) (string, []string, error) {
	users := filepath.Join(dir, "users.toml")
	os.Remove(users)
	add := exec.Command(e.ferryBin, "user", "add", "--file", users, "--home", e.root, benchUser)
	add.Stdin = strings.NewReader(benchPass + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("ferry user add: %v\n%s", err, out)
	}
	s.hash = ferryHash(users)
	conf := fmt.Sprintf(`# generated by ferry's bench
[[listen]]
address = %q

[tls]
cert_file = %q
key_file = %q

[passive]
ports = "%d-%d"

[active]
enabled = true

[timeouts]
idle = "1h"
login = "10m"

[limits]
max_sessions = -1
max_per_ip = -1
ban_after = -1

[uploads]
atomic = false

[users]
file = %q

[anonymous]
enabled = true
root = %q

[log]
level = "warn"
file = %q
`, s.addr, e.cert, e.key, pmin, pmin+passiveRangeSize-1, users, e.anonRoot, filepath.Join(dir, "ferry.log"))
	path := filepath.Join(dir, "ferry.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return "", nil, err
	}
	if inProcess != nil {
		stop, err := inProcess(path)
		if err != nil {
			return "", nil, err
		}
		s.inner = stop
		return "", nil, nil
	}
	return e.ferryBin, []string{"serve", "--config", path}, nil
}

// inProcess, when set (by -profile), runs ferry inside the harness from a
// config file and returns how to stop it.
var inProcess func(configPath string) (stop func(), err error)

// ferryHash describes the hash `ferry user add` wrote.
func ferryHash(users string) string {
	b, _ := os.ReadFile(users)
	i := bytes.Index(b, []byte("$argon2id$"))
	if i < 0 {
		return "?"
	}
	f := strings.Split(string(b[i:]), "$")
	if len(f) < 4 {
		return "argon2id"
	}
	return "argon2id " + f[3]
}

// cryptHash describes a crypt(3) hash: its scheme and cost parameter.
func cryptHash(h string) string {
	f := strings.Split(h, "$")
	if len(f) < 3 {
		return "crypt?"
	}
	switch f[1] {
	case "y":
		return "yescrypt " + f[2]
	case "6":
		if strings.HasPrefix(f[2], "rounds=") {
			return "sha512crypt " + f[2]
		}
		return "sha512crypt rounds=5000"
	case "5":
		return "sha256crypt"
	case "2b", "2y", "2a":
		return "bcrypt cost=" + f[2]
	}
	return "crypt $" + f[1] + "$"
}

func vsftpdCmd(e *env, s *ftpd, dir string, port, pmin int) (string, []string, error) {
	if _, err := os.Stat("/var/run/vsftpd/empty"); err != nil {
		if err := os.MkdirAll("/var/run/vsftpd/empty", 0o755); err != nil {
			return "", nil, err
		}
	}
	s.hash = "PAM: " + cryptHash(e.shadow)
	cfg := vsftpdConfig(e, dir, port, pmin)
	conf := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(conf, []byte(cfg.String()), 0o600); err != nil {
		return "", nil, err
	}
	return "/usr/sbin/vsftpd", []string{conf}, nil
}

// vsftpdConfig is vsftpd's configuration: the common settings, TLS
// offered, anonymous logins, and long timeouts.
func vsftpdConfig(e *env, dir string, port, pmin int) peertest.VsftpdConfig {
	return peertest.VsftpdConfig{
		Port: port, PassiveMin: pmin, PassiveMax: pmin + passiveRangeSize - 1,
		Root:        e.root,
		AnonRoot:    e.anonRoot,
		Banner:      "vsftpd bench",
		LogFile:     filepath.Join(dir, "vsftpd.log"),
		IdleTimeout: time.Hour,
		DataTimeout: 10 * time.Minute,
		CertFile:    e.cert,
		KeyFile:     e.key,
	}
}

func pureFTPdCmd(e *env, s *ftpd, dir string, port, pmin int) (string, []string, error) {
	// The virtual user has the system account's own crypt(3) hash, which
	// Pure-FTPd checks with crypt(3), as vsftpd's PAM and ProFTPD do.
	s.hash = "PureDB: " + cryptHash(e.shadow)
	// Debian's build answers "421 500 users (the maximum) are already
	// logged in" past 500, --maxclientsnumber notwithstanding.
	s.maxSessions = 500
	pdb, err := peertest.WritePureDB(dir, benchUser, e.shadow, e.uid, e.gid, e.root)
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(peertest.PureFTPdDir, "sbin", "pure-ftpd"), pureFTPdConfig(e, pdb, port, pmin).Args(), nil
}

// pureFTPdConfig is Pure-FTPd's configuration: the common settings, TLS
// offered, anonymous logins, and limits far above the workloads'.
func pureFTPdConfig(e *env, pdb string, port, pmin int) peertest.PureFTPdConfig {
	return peertest.PureFTPdConfig{
		Port: port, PassiveMin: pmin, PassiveMax: pmin + passiveRangeSize - 1,
		PureDB:          pdb,
		Anonymous:       true,
		MaxClients:      20000,
		MaxClientsPerIP: 20000,
		MaxIdle:         time.Hour,
		// The default stops a listing at 10,000 entries.
		MaxListing: 2000000,
		CertFile:   e.cert,
		KeyFile:    e.key,
	}
}

func proFTPdCmd(e *env, s *ftpd, dir string, port, pmin int) (string, []string, error) {
	s.hash = "AuthUserFile: " + cryptHash(e.shadow)
	passwd := filepath.Join(dir, "ftpd.passwd")
	group := filepath.Join(dir, "ftpd.group")
	if err := os.WriteFile(passwd, fmt.Appendf(nil, "%s:%s:%d:%d::%s:/bin/sh\n", benchUser, e.shadow, e.uid, e.gid, e.root), 0o600); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(group, fmt.Appendf(nil, "%s:x:%d:\n", benchUser, e.gid), 0o600); err != nil {
		return "", nil, err
	}
	modDir := filepath.Join(proFTPdDir, "lib", "proftpd")
	tlsConf := ""
	if _, err := os.Stat(filepath.Join(modDir, "mod_tls.so")); err == nil {
		tlsConf = fmt.Sprintf(`ModulePath %s
LoadModule mod_tls.c
<IfModule mod_tls.c>
  TLSEngine on
  TLSRequired off
  TLSProtocol TLSv1.2 TLSv1.3
  TLSRSACertificateFile %s
  TLSRSACertificateKeyFile %s
  TLSOptions NoSessionReuseRequired
  TLSLog %s
</IfModule>
`, modDir, e.cert, e.key, filepath.Join(dir, "tls.log"))
	} else {
		s.tls = false
	}
	conf := fmt.Sprintf(`# generated by ferry's bench
ServerName "proftpd bench"
ServerType standalone
DefaultServer on
DefaultAddress 127.0.0.1
SocketBindTight on
Port %d
PassivePorts %d %d
User nobody
Group nogroup
PidFile %s
ScoreboardFile %s
SystemLog %s
TransferLog NONE
WtmpLog off
UseReverseDNS off
DelayEngine off
UseFtpUsers off
MaxInstances none
MaxClients none
MaxLoginAttempts 100
TimeoutIdle 3600
TimeoutNoTransfer 3600
TimeoutLogin 600
Umask 022
AllowOverwrite on
AuthOrder mod_auth_file.c mod_auth_unix.c
AuthUserFile %s
AuthGroupFile %s
RequireValidShell off
DefaultRoot ~
%s
<Anonymous %s>
  User ftp
  Group nogroup
  UserAlias anonymous ftp
  RequireValidShell off
  <Limit WRITE>
    DenyAll
  </Limit>
</Anonymous>
`, port, pmin, pmin+passiveRangeSize-1,
		filepath.Join(dir, "proftpd.pid"), filepath.Join(dir, "proftpd.scoreboard"), filepath.Join(dir, "proftpd.log"),
		passwd, group, tlsConf, e.anonRoot)
	path := filepath.Join(dir, "proftpd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return "", nil, err
	}
	return filepath.Join(proFTPdDir, "sbin", "proftpd"), []string{"--nodaemon", "--config", path}, nil
}

// systemAccount returns benchUser's ids and shadow hash, creating the
// account (with benchPass) if it does not exist yet.
func systemAccount() (uid, gid int, hash string, err error) {
	u, err := user.Lookup(benchUser)
	if err != nil {
		out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", "--user-group", benchUser).CombinedOutput()
		if err != nil && !bytes.Contains(out, []byte("already exists")) {
			return 0, 0, "", fmt.Errorf("useradd %s: %v\n%s", benchUser, err, out)
		}
		cmd := exec.Command("chpasswd")
		cmd.Stdin = strings.NewReader(benchUser + ":" + benchPass + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, 0, "", fmt.Errorf("chpasswd: %v\n%s", err, out)
		}
		if u, err = user.Lookup(benchUser); err != nil {
			return 0, 0, "", err
		}
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	f, err := os.Open("/etc/shadow")
	if err != nil {
		return 0, 0, "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, _ := strings.Cut(sc.Text(), ":")
		if name == benchUser {
			hash, _, _ = strings.Cut(rest, ":")
			return uid, gid, hash, nil
		}
	}
	return 0, 0, "", fmt.Errorf("%s has no entry in /etc/shadow", benchUser)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// nextRange is where the search for the next free passive range starts;
// ranges lie below Linux's default ephemeral range (32768-60999) so that
// client sockets never take their ports.
var nextRange = 10000

// freePortRange finds n consecutive ports on 127.0.0.1 that are free now
// (probing each costs a bind), and returns the first.
func freePortRange(n int) (int, error) {
	for base := nextRange; base+n <= 32768; base += n {
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			nextRange = base + n
			return base, nil
		}
	}
	return 0, fmt.Errorf("no %d free consecutive ports below 32768", n)
}
