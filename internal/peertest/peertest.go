// Package peertest starts real third-party FTP servers (vsftpd, Pure-FTPd)
// on loopback for interop tests. Each peer gets a free control port, a
// free passive port range, a temporary root directory and a known user,
// and is stopped by its PID when the test ends. Its log is printed if the
// test failed.
package peertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testenv"
)

// The system account the peers log in as. vsftpd authenticates local
// users through PAM, so it must be a real account; Pure-FTPd maps its
// virtual user onto the same uid. The password is fixed because several
// test binaries may run at once and must agree on it; the peers listen on
// 127.0.0.1 only.
const (
	UserName = "ferrytest"
	Password = "ferry-peer-test-pw"
)

// readyTimeout bounds how long a peer may take to greet.
const readyTimeout = 15 * time.Second

// Options choose how a peer is configured.
type Options struct {
	// TLS enables explicit FTPS (AUTH TLS), required for logins and data
	// (and, for vsftpd, with require_ssl_reuse=YES).
	TLS bool
	// ImplicitTLS makes the control port speak TLS from the first byte.
	// Only vsftpd supports it here.
	ImplicitTLS bool
}

// Peer is a running FTP server.
type Peer struct {
	Addr     string // host:port of the control connection
	Root     string // directory the user sees as "/"
	User     string
	Password string
	TLS      bool // explicit or implicit TLS is required
	// CertPool trusts the peer's self-signed certificate.
	CertPool *x509.CertPool

	uid, gid int
	implicit bool // the control connection starts with a TLS handshake
}

// WriteFile creates name (slash-separated, relative to Root) with data,
// owned by the peer's user so that the peer may modify or delete it.
func (p *Peer) WriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	full := filepath.Join(p.Root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(full, p.uid, p.gid); err != nil {
		t.Fatal(err)
	}
	return full
}

// TLSConfig returns a client TLS config that trusts the peer.
func (p *Peer) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: p.CertPool, ServerName: "127.0.0.1"}
}

// Vsftpd starts /usr/sbin/vsftpd.
func Vsftpd(t testing.TB, opts Options) *Peer {
	t.Helper()
	bin := testenv.Tool(t, "vsftpd")
	testenv.Root(t)
	if _, err := os.Stat("/var/run/vsftpd/empty"); err != nil {
		testenv.Missing(t, "vsftpd's secure_chroot_dir /var/run/vsftpd/empty is missing")
	}
	p, dir := newPeer(t, opts)
	port := FreePort(t)
	pmin, pmax := FreePortRange(t, 16)
	logFile := filepath.Join(dir, "vsftpd.log")
	cfg := VsftpdConfig{
		Port: port, PassiveMin: pmin, PassiveMax: pmax,
		Root:    p.Root,
		Banner:  "ferry peertest vsftpd",
		LogFile: logFile,
		Verbose: true,
	}
	if opts.TLS || opts.ImplicitTLS {
		cfg.CertFile, cfg.KeyFile = writeCert(t, p, dir)
		cfg.RequireTLS = true
		cfg.ImplicitTLS = opts.ImplicitTLS
	}
	conf := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(conf, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	start(t, p, dir, []string{logFile}, bin, conf)
	return p
}

// PureFTPd starts Pure-FTPd with a virtual user in a PureDB file.
func PureFTPd(t testing.TB, opts Options) *Peer {
	t.Helper()
	bin := filepath.Join(PureFTPdDir, "sbin", "pure-ftpd")
	pw := filepath.Join(PureFTPdDir, "bin", "pure-pw")
	for _, f := range []string{bin, pw} {
		if _, err := os.Stat(f); err != nil {
			testenv.Missing(t, f+" not found (run scripts/install-test-deps.sh)")
		}
	}
	testenv.Root(t)
	if opts.ImplicitTLS {
		t.Fatal("peertest: Pure-FTPd has no implicit TLS")
	}
	p, dir := newPeer(t, opts)
	p.User = "ferry"

	// pure-pw useradd hashes with Argon2id tuned for seconds per login;
	// a SHA-512 crypt hash (which Pure-FTPd checks through crypt(3)) keeps
	// each login in the tests fast.
	openssl := testenv.Tool(t, "openssl")
	hashCmd := exec.Command(openssl, "passwd", "-6", "-stdin")
	hashCmd.Stdin = strings.NewReader(p.Password)
	hash, err := hashCmd.Output()
	if err != nil {
		t.Fatalf("openssl passwd: %v", err)
	}
	pdb, err := WritePureDB(dir, p.User, string(bytes.TrimSpace(hash)), p.uid, p.gid, p.Root)
	if err != nil {
		t.Fatal(err)
	}

	port := FreePort(t)
	pmin, pmax := FreePortRange(t, 16)
	cfg := PureFTPdConfig{
		Port: port, PassiveMin: pmin, PassiveMax: pmax,
		PureDB:          pdb,
		MaxClientsPerIP: 50,
		Verbose:         true,
		NoChmod:         true,
		TransferLog:     filepath.Join(dir, "transfers.log"),
	}
	if opts.TLS {
		cfg.CertFile, cfg.KeyFile = writeCert(t, p, dir)
		cfg.RequireTLS = true
	}
	p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	start(t, p, dir, nil, bin, cfg.Args()...)
	return p
}

func newPeer(t testing.TB, opts Options) (*Peer, string) {
	t.Helper()
	uid, gid := systemUser(t)
	dir := t.TempDir()
	// The root lives in a directory of its own, world-traversable, so
	// that a server process running as the test user can reach it.
	base, err := os.MkdirTemp("", "ferry-peer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	root := filepath.Join(base, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(root, uid, gid); err != nil {
		t.Fatal(err)
	}
	return &Peer{
		Root:     root,
		User:     UserName,
		Password: Password,
		TLS:      opts.TLS || opts.ImplicitTLS,
		implicit: opts.ImplicitTLS,
		uid:      uid,
		gid:      gid,
	}, dir
}

var userMu sync.Mutex

// systemUser returns the uid and gid of UserName, creating the account
// (and setting its password) if needed. It needs a home directory that
// exists: vsftpd changes into it before local_root. Another test binary may be
// creating it at the same moment, so "already exists" is not an error.
func systemUser(t testing.TB) (uid, gid int) {
	t.Helper()
	userMu.Lock()
	defer userMu.Unlock()
	u, err := user.Lookup(UserName)
	if err != nil {
		useradd := testenv.Tool(t, "useradd")
		out, err := exec.Command(useradd, "--create-home",
			"--shell", "/bin/sh", "--user-group", UserName).CombinedOutput()
		if err != nil && !bytes.Contains(out, []byte("already exists")) {
			t.Fatalf("useradd %s: %v\n%s", UserName, err, out)
		}
		chpasswd := testenv.Tool(t, "chpasswd")
		cmd := exec.Command(chpasswd)
		cmd.Stdin = strings.NewReader(UserName + ":" + Password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chpasswd: %v\n%s", err, out)
		}
		if u, err = user.Lookup(UserName); err != nil {
			t.Fatal(err)
		}
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	return uid, gid
}

// start runs the peer, stops it by PID when the test ends, prints its
// output and logFiles if the test failed, and waits for its 220 banner.
func start(t testing.TB, p *Peer, dir string, logFiles []string, bin string, args ...string) {
	t.Helper()
	outPath := filepath.Join(dir, "output.log")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	// exited is closed when the process is gone; waitErr is then set.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// Stop exactly the process started here. Sessions it forked
		// exit when their control connection closes.
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("%s (pid %d) did not exit", bin, cmd.Process.Pid)
		}
		out.Close()
		if t.Failed() {
			for _, f := range append([]string{outPath}, logFiles...) {
				b, _ := os.ReadFile(f)
				t.Logf("--- %s ---\n%s", filepath.Base(f), b)
			}
		}
	})
	waitReady(t, p, filepath.Base(bin), exited, &waitErr)
}

// waitReady waits until the peer accepts a connection and sends 220,
// and fails the test if it exits first or readyTimeout passes; the last
// probe's error is logged then.
func waitReady(t testing.TB, p *Peer, name string, exited <-chan struct{}, waitErr *error) {
	t.Helper()
	var last error
	t.Cleanup(func() {
		if t.Failed() && last != nil {
			t.Logf("%s: last readiness probe: %v", name, last)
		}
	})
	testenv.WaitFor(t, readyTimeout, name+" to greet with 220", func() bool {
		select {
		case <-exited:
			t.Fatalf("%s exited before it was ready: %v", name, *waitErr)
		default:
		}
		last = probe(p)
		return last == nil
	})
}

func probe(p *Peer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if p.implicit {
		tc := tls.Client(c, p.TLSConfig())
		if err := tc.Handshake(); err != nil {
			return err
		}
		c = tc
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "220") {
		return fmt.Errorf("unexpected greeting %q", line)
	}
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// for programs that must be told a port rather than handed a listener.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreePortRange finds n consecutive free ports on 127.0.0.1 (see
// testenv.FreePortRange).
func FreePortRange(t testing.TB, n int) (lo, hi int) {
	t.Helper()
	return testenv.FreePortRange(t, n)
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key as
// PEM files for the peer, and records it in p.
func writeCert(t testing.TB, p *Peer, dir string) (certFile, keyFile string) {
	t.Helper()
	c := testenv.SelfSigned(t)
	certFile, keyFile = c.WriteFiles(t, dir)
	p.CertPool = c.Pool
	return certFile, keyFile
}
