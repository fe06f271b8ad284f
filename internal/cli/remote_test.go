package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/client"
	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/peertest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
)

// The account the client-command tests log in with: ftptest's user
// with every permission.
const (
	ftpUser = ftptest.User
	ftpPass = ftptest.Password
)

// ftpServer is one of our servers for a client-command test.
type ftpServer struct {
	root     string // the served directory
	addr     string // plain (and explicit TLS) listener
	implicit string // implicit TLS listener, if TLS
	caFile   string // PEM of the self-signed certificate, if TLS

	mu     sync.Mutex
	logins []string // user names that logged in
}

// url returns ftp://alice:PASS@addr/p.
func (s *ftpServer) url(p string) string {
	return fmt.Sprintf("ftp://%s:%s@%s/%s", ftpUser, ftpPass, s.addr, p)
}

// bareURL is url without credentials.
func (s *ftpServer) bareURL(p string) string { return fmt.Sprintf("ftp://%s/%s", s.addr, p) }

// recordLogins passes logins on and records the names that logged in.
type recordLogins struct {
	server.Authenticator
	s *ftpServer
}

func (r recordLogins) Authenticate(ctx context.Context, req server.LoginRequest) (*server.User, error) {
	u, err := r.Authenticator.Authenticate(ctx, req)
	if err == nil {
		r.s.mu.Lock()
		r.s.logins = append(r.s.logins, req.User)
		r.s.mu.Unlock()
	}
	return u, err
}

// startFTP serves a temporary directory until the test ends (see
// ftptest.NewServer); with tls, explicit and implicit TLS too. tweak,
// if any, adjusts the config.
func startFTP(t *testing.T, withTLS bool, tweak ...func(*server.Config)) *ftpServer {
	t.Helper()
	s := &ftpServer{}
	configure := append([]func(*server.Config){func(c *server.Config) {
		// mirror -j holds more passive ports at once than ftptest's 8.
		lo, hi := testenv.FreePortRange(t, 16)
		c.PassivePorts = ftp.PortRange{Min: uint16(lo), Max: uint16(hi)}
		c.Auth = recordLogins{c.Auth, s}
	}}, tweak...)
	start := ftptest.NewServer
	if withTLS {
		start = ftptest.NewTLSServer
	}
	ts := start(t, configure...)
	s.root, s.addr, s.implicit = ts.Root, ts.Addr, ts.ImplicitAddr
	if withTLS {
		s.caFile, _ = ts.Cert.WriteFiles(t, t.TempDir())
	}
	return s
}

// ferry runs the CLI in-process (with an empty stdin, no terminal) and
// fails the test if a password shows in its output.
func ferry(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, append(args, "--timeout", "20s"), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
	for _, pw := range []string{ftpPass, peertest.Password} {
		if strings.Contains(out.String()+errb.String(), pw) {
			t.Errorf("ferry %v printed a password:\n%s\n%s", args, out.String(), errb.String())
		}
	}
	return code, out.String(), errb.String()
}

// mustFerry runs the CLI and fails the test unless it exits 0.
func mustFerry(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := ferry(t, args...)
	if code != 0 {
		t.Fatalf("ferry %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

func randomData(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// sameFile fails the test unless the file at p holds want (by SHA-256).
func sameFile(t *testing.T, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("%s: %d bytes, sha256 %x; want %d bytes, sha256 %x", p, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

func TestParseRemote(t *testing.T) {
	tests := []struct {
		in   string
		want Remote
		err  string
	}{
		{in: "ftp://example.com", want: Remote{Host: "example.com:21", Name: "example.com"}},
		{in: "ftp://example.com/", want: Remote{Host: "example.com:21", Name: "example.com", Dir: true}},
		{in: "ftps://h/pub/file.txt", want: Remote{Host: "h:990", Name: "h", Implicit: true, Path: "pub/file.txt"}},
		{in: "FTP://bob@h:2121/a/b/", want: Remote{Host: "h:2121", Name: "h", User: "bob", Path: "a/b", Dir: true}},
		{in: "ftp://bob:p%40ss%3Aw@h/x", want: Remote{Host: "h:21", Name: "h", User: "bob", Password: "p@ss:w", HasPass: true, Path: "x"}},
		{in: "ftp://bob:@h/x", want: Remote{Host: "h:21", Name: "h", User: "bob", HasPass: true, Path: "x"}},
		{in: "ftp://[::1]:2121/", want: Remote{Host: "[::1]:2121", Name: "::1", Dir: true}},
		{in: "ftp://h/%2Fetc/motd", want: Remote{Host: "h:21", Name: "h", Path: "/etc/motd"}},
		{in: "ftp://h/a%20b/c%2Fd", want: Remote{Host: "h:21", Name: "h", Path: "a b/c/d"}},
		{in: "http://h/", err: "want ftp:// or ftps://"},
		{in: "ftp:///x", err: "no host"},
		{in: "ftp://h:99999/", err: "bad port"},
		{in: "ftp://bob:hunter2@h:0/", err: "bad port"},
	}
	for _, tt := range tests {
		got, err := ParseRemote(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseRemote(%q) = %+v, %v; want error %q", tt.in, got, err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("ParseRemote(%q): error shows the password: %v", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRemote(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestCredentials(t *testing.T) {
	srv := startFTP(t, false)
	writeFile(t, filepath.Join(srv.root, "f.txt"), "hello")
	netrc := filepath.Join(t.TempDir(), "netrc")
	host, _, _ := net.SplitHostPort(srv.addr)
	writeFile(t, netrc, "machine "+host+" login "+ftpUser+" password "+ftpPass+"\n")
	t.Setenv("NETRC", netrc)

	// From the URL, with --debug: PASS shows as XXXX (ferry checks that
	// the password never shows).
	code, _, errOut := ferry(t, "ls", "--debug", srv.url(""))
	if code != 0 || !strings.Contains(errOut, "---> PASS XXXX") || !strings.Contains(errOut, "---> USER "+ftpUser) {
		t.Errorf("URL credentials: exit %d, %s", code, errOut)
	}
	// From --user NAME:PASS, the URL without credentials.
	if out := mustFerry(t, "ls", "--user", ftpUser+":"+ftpPass, srv.bareURL("")); out != "f.txt\n" {
		t.Errorf("--user: %q", out)
	}
	// From .netrc, for the user of the URL and for none.
	mustFerry(t, "ls", fmt.Sprintf("ftp://%s@%s/", ftpUser, srv.addr))
	mustFerry(t, "ls", "--debug", srv.bareURL(""))
	srv.mu.Lock()
	logins := strings.Join(srv.logins, ",")
	srv.mu.Unlock()
	if logins != "alice,alice,alice,alice" {
		t.Errorf("logins %s", logins)
	}
	// No netrc: anonymous.
	t.Setenv("NETRC", filepath.Join(t.TempDir(), "none"))
	_, _, errOut = ferry(t, "ls", "--debug", srv.bareURL(""))
	if !strings.Contains(errOut, "---> USER anonymous") {
		t.Errorf("anonymous: %s", errOut)
	}
	// A wrong password: exit 3 with a hint, and the password not shown.
	code, _, errOut = ferry(t, "ls", "--debug", fmt.Sprintf("ftp://%s:%s@%s/", ftpUser, "wrong-"+ftpPass, srv.addr))
	if code != exitConnection || !strings.Contains(errOut, "530") || !strings.Contains(errOut, "check the user name and password") {
		t.Errorf("bad login: exit %d, %s", code, errOut)
	}
}

func TestExitCodes(t *testing.T) {
	srv := startFTP(t, false)
	// Connection refused: a port that was free a moment ago.
	refused := fmt.Sprintf("ftp://127.0.0.1:%d/", peertest.FreePort(t))
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ls", "http://x/"}, exitUsage, "ftp://"},
		{[]string{"get"}, exitUsage, "expected"},
		{[]string{"put", "only-one-arg"}, exitUsage, "FILE... URL"},
		{[]string{"mirror", "a", "b"}, exitUsage, "one local directory"},
		{[]string{"ls", "--mode", "sideways", srv.url("")}, exitUsage, "mode"},
		{[]string{"ls", "--active-ports", "9-1", srv.url("")}, exitUsage, "active-ports"},
		{[]string{"ls", "--insecure", srv.url("")}, exitUsage, "need --tls"},
		{[]string{"get", srv.url("")}, exitUsage, "use -r"},
		{[]string{"ls", "ftp://nobody:nopass@" + srv.addr + "/"}, exitConnection, "530"},
		{[]string{"ls", refused}, exitConnection, "nothing listens there"},
		{[]string{"get", srv.url("missing.txt"), filepath.Join(t.TempDir(), "x")}, exitTransfer, "550"},
		{[]string{"cat", srv.url("missing.txt")}, exitTransfer, "550"},
		{[]string{"rm", srv.url("missing.txt")}, exitFailure, "550"},
	}
	for _, tt := range tests {
		code, _, errOut := ferry(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("ferry %v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

func TestClientExit(t *testing.T) {
	if got := clientExit(errors.New("x")); got != exitFailure {
		t.Errorf("plain error: %d", got)
	}
	if got := clientExit(errors.Join(usagef("u"), errors.New("x"))); got != exitUsage {
		t.Errorf("usage: %d", got)
	}
	if got := clientExit(fmt.Errorf("get: %w", errors.Join(client.ErrTransfer, client.ErrVerification))); got != exitVerify {
		t.Errorf("verification: %d", got)
	}
}

func TestHint(t *testing.T) {
	tests := []struct {
		err  error
		mode client.Mode
		want string
	}{
		{fmt.Errorf("%w: %w", client.ErrLogin, ftp.Errorf(530, "Login incorrect.")), client.ModePassive, "check the user name and password"},
		{fmt.Errorf("%w: %w", client.ErrTransfer, ftp.Errorf(425, "Can't open data connection.")), client.ModePassive, "try --mode active or ferry doctor URL"},
		{fmt.Errorf("%w: %w", client.ErrTransfer, ftp.Errorf(425, "Can't open data connection.")), client.ModeActive, "try --mode passive"},
		{fmt.Errorf("%w: dial: %w", client.ErrTransfer, syscall.ECONNREFUSED), client.ModePassive, "passive ports"},
		{fmt.Errorf("%w: dial: %w", client.ErrConnection, syscall.ECONNREFUSED), client.ModePassive, "nothing listens there"},
		{errors.New("something else"), client.ModePassive, ""},
	}
	for _, tt := range tests {
		got := hint(tt.err, tt.mode)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("hint(%v, %v) = %q, want %q", tt.err, tt.mode, got, tt.want)
		}
	}
}
