package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/storage/local"
)

// testAuth accepts alice/secret with every permission, bob/secret
// read-only, and anonymous read-only, all rooted at root.
type testAuth struct{ root string }

func (a testAuth) Authenticate(_ context.Context, req LoginRequest) (*User, error) {
	var perms Perm
	anon := false
	switch {
	case req.User == "alice" && req.Password == "secret":
		perms = PermAll
	case req.User == "bob" && req.Password == "secret":
		perms = PermReadOnly
	case isAnonymousName(req.User):
		perms, anon = PermReadOnly, true
	default:
		return nil, ErrBadLogin
	}
	fsys, err := local.New(a.root)
	if err != nil {
		return nil, err
	}
	return &User{Name: req.User, FS: fsys, Perms: perms, Anonymous: anon}, nil
}

type testServer struct {
	srv  *Server
	addr string
	root string
}

// testLogger sends server logs to the test's log, shown on failure.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startServer runs a server on 127.0.0.1:0 with a fresh root and a free
// passive range; mutate adjusts the config first.
func startServer(t *testing.T, mutate func(*Config)) *testServer {
	t.Helper()
	root := t.TempDir()
	cfg := Config{
		Auth:             testAuth{root: root},
		PassivePorts:     freePortRange(t, 8),
		FailedLoginDelay: time.Millisecond,
		Logger:           testLogger(t),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return &testServer{srv: srv, addr: l.Addr().String(), root: root}
}

func (ts *testServer) write(t *testing.T, name string, data []byte) {
	t.Helper()
	p := filepath.Join(ts.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (ts *testServer) read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ts.root, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ctrl is a scripted control connection: it sends a command and checks
// the reply code, like a transcript.
type ctrl struct {
	t    *testing.T
	conn net.Conn
	r    *textproto.Reader
}

func dial(t *testing.T, addr string) *ctrl {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &ctrl{t: t, conn: conn, r: textproto.NewReader(bufio.NewReader(conn))}
	c.expect(ftp.CodeServiceReady)
	return c
}

// send writes a raw line (CRLF added).
func (c *ctrl) send(line string) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
}

// expect reads one reply and fails unless its code is code. It returns
// the reply text (lines joined by "\n").
func (c *ctrl) expect(code int) string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, msg, err := c.r.ReadResponse(0)
	if err != nil && got == 0 {
		c.t.Fatalf("reading reply (want %d): %v", code, err)
	}
	if got != code {
		c.t.Fatalf("reply %d %q, want %d", got, msg, code)
	}
	return msg
}

// cmd sends line and expects code.
func (c *ctrl) cmd(code int, line string) string {
	c.t.Helper()
	c.send(line)
	return c.expect(code)
}

func (c *ctrl) login(user string) {
	c.t.Helper()
	c.cmd(ftp.CodeNeedPassword, "USER "+user)
	c.cmd(ftp.CodeLoggedIn, "PASS secret")
}

// epsv asks for a passive port and connects to it.
func (c *ctrl) epsv() net.Conn {
	c.t.Helper()
	msg := c.cmd(ftp.CodeExtendedPassive, "EPSV")
	port, err := ftp.ParseEPSVReply(msg)
	if err != nil {
		c.t.Fatal(err)
	}
	dc, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), 5*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { dc.Close() })
	return dc
}

// pasv is epsv with PASV, returning the advertised address too.
func (c *ctrl) pasv() (net.Conn, netip.AddrPort) {
	c.t.Helper()
	msg := c.cmd(ftp.CodePassive, "PASV")
	ap, err := ftp.ParsePASVReply(msg)
	if err != nil {
		c.t.Fatal(err)
	}
	dc, err := net.DialTimeout("tcp", ap.String(), 5*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { dc.Close() })
	return dc, ap
}

// active listens for an active data connection and sends PORT or EPRT.
func (c *ctrl) active(verb string) <-chan net.Conn {
	c.t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { l.Close() })
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	var arg string
	if verb == "PORT" {
		arg, _ = ftp.FormatHostPort(ap)
	} else {
		arg = ftp.FormatEPRT(ap)
	}
	c.cmd(ftp.CodeOK, verb+" "+arg)
	ch := make(chan net.Conn, 1)
	go func() {
		dc, err := l.Accept()
		if err == nil {
			ch <- dc
		}
		close(ch)
	}()
	return ch
}

// readAll reads a data connection to its end with a deadline.
func readAll(t *testing.T, dc net.Conn) []byte {
	t.Helper()
	_ = dc.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := io.ReadAll(dc)
	if err != nil {
		t.Fatalf("data read: %v", err)
	}
	dc.Close()
	return b
}

func writeAll(t *testing.T, dc net.Conn, data []byte) {
	t.Helper()
	_ = dc.SetWriteDeadline(time.Now().Add(20 * time.Second))
	if _, err := dc.Write(data); err != nil {
		t.Fatalf("data write: %v", err)
	}
	dc.Close()
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
