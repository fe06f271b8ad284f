// Package ftptest runs a real ferry server for tests, as net/http/httptest
// does for HTTP: NewServer starts a server.Server on 127.0.0.1:0 over a
// temporary directory, with known accounts and a free passive range, and
// stops it when the test ends. Conn speaks the control protocol line by
// line for transcript tests, against this server or any other.
//
//	ts := ftptest.NewServer(t, func(c *server.Config) { c.AtomicUploads = true })
//	c := ts.Dial(t)
//	c.Login(ftptest.User, ftptest.Password)
//	c.Script([]ftptest.Step{
//		{Send: "PWD", Want: `257 "/"`},
//		{Send: "MKD d", Want: "257"},
//		{Send: "DELE nothing", Want: "550"},
//	})
package ftptest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
	"github.com/ferry-ftp/ferry/storage/local"
)

// The accounts of the authenticator NewServer installs, all rooted at
// Server.Root: User may do everything, ReadOnlyUser may list and
// download, and "anonymous" (or "ftp") logs in read-only with any
// password. The password is distinctive so that a test can check that
// it never shows in output.
const (
	User         = "alice"
	ReadOnlyUser = "bob"
	Password     = "s3cr3t-Pa55-word"
)

// Server is a running ferry server.
type Server struct {
	Addr         string         // host:port of the listener (AUTH TLS too when TLS is on)
	ImplicitAddr string         // host:port of the implicit-TLS listener; "" without TLS
	Root         string         // the directory every account sees as "/"
	Cert         *testenv.Cert  // the certificate NewTLSServer made; nil otherwise
	Server       *server.Server // the server itself, for Shutdown and the like

	t         testing.TB
	fsys      *local.FS
	log       *logWriter
	served    chan error // one value per listener when its Serve returns
	listeners int
	closeOnce sync.Once
}

// NewServer starts a server on 127.0.0.1:0 and closes it when the test
// ends. Each configure function may change any field of the config,
// which holds, before they run: Auth with the accounts above, a free
// passive range of 8 ports, a 1ms failed-login delay, and a Logger that
// writes to the test's log and fails the test if the server recovered
// from a panic in a session or transfer. If Config.TLS is set after them, the server
// also listens for implicit TLS at ImplicitAddr.
func NewServer(t testing.TB, configure ...func(*server.Config)) *Server {
	t.Helper()
	return start(t, nil, configure)
}

// NewTLSServer is NewServer with Config.TLS presenting a fresh
// self-signed certificate for 127.0.0.1 (Cert), so AUTH TLS works on
// Addr and implicit TLS on ImplicitAddr. Clients trust it with
// Cert.ClientConfig("127.0.0.1") or Cert.Pool.
func NewTLSServer(t testing.TB, configure ...func(*server.Config)) *Server {
	t.Helper()
	return start(t, testenv.SelfSigned(t), configure)
}

func start(t testing.TB, cert *testenv.Cert, configure []func(*server.Config)) *Server {
	t.Helper()
	s := &Server{Root: t.TempDir(), Cert: cert, t: t, log: &logWriter{t: t}, served: make(chan error, 2)}
	fsys, err := local.New(s.Root)
	if err != nil {
		t.Fatal(err)
	}
	s.fsys = fsys
	lo, hi := testenv.FreePortRange(t, 8)
	cfg := server.Config{
		Auth:             accounts{fsys},
		PassivePorts:     ftp.PortRange{Min: uint16(lo), Max: uint16(hi)},
		FailedLoginDelay: time.Millisecond,
		Logger:           slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if cert != nil {
		cfg.TLS = cert.ServerConfig()
	}
	for _, f := range configure {
		f(&cfg)
	}
	if s.Server, err = server.New(cfg); err != nil {
		fsys.Close()
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.Addr = s.serve(s.Server.Serve)
	if cfg.TLS != nil {
		s.ImplicitAddr = s.serve(s.Server.ServeImplicitTLS)
	}
	return s
}

// serve listens on 127.0.0.1:0 and runs serve on the listener until Close.
func (s *Server) serve(serve func(net.Listener) error) string {
	s.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	s.listeners++
	go func() { s.served <- serve(l) }()
	return l.Addr().String()
}

// Close closes the server and every session at once, and waits until
// it has stopped serving. It is called when the test ends; calling it
// before is fine.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.Server.Close()
		for range s.listeners {
			if err := <-s.served; !errors.Is(err, server.ErrServerClosed) {
				s.t.Errorf("ftptest: Serve returned %v", err)
			}
		}
		s.fsys.Close()
		s.log.close()
	})
}

// Dial opens a control connection to the server (see Dial).
func (s *Server) Dial(t testing.TB) *Conn {
	t.Helper()
	return Dial(t, s.Addr)
}

// accounts is the authenticator NewServer installs.
type accounts struct{ fsys *local.FS }

func (a accounts) Authenticate(_ context.Context, req server.LoginRequest) (*server.User, error) {
	u := &server.User{Name: req.User, FS: a.fsys}
	switch {
	case req.User == User && req.Password == Password:
		u.Perms = server.PermAll
	case req.User == ReadOnlyUser && req.Password == Password:
		u.Perms = server.PermReadOnly
	case strings.EqualFold(req.User, "anonymous") || strings.EqualFold(req.User, "ftp"):
		u.Perms, u.Anonymous = server.PermReadOnly, true
	default:
		return nil, server.ErrBadLogin
	}
	return u, nil
}

// logWriter sends the server's log lines to the test's log, which shows
// them when the test fails or runs with -v, until close. It keeps the
// lines that report a panic the server recovered from, which nothing
// else would show.
type logWriter struct {
	t      testing.TB
	mu     sync.Mutex
	closed bool
	panics []string
}

var panicLine = regexp.MustCompile(`level=ERROR msg="[^"]*panic`)

func (w *logWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(line)
	}
	if panicLine.MatchString(line) {
		w.panics = append(w.panics, line)
	}
	return len(p), nil
}

// close stops the logging and fails the test for each panic logged.
func (w *logWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for _, p := range w.panics {
		w.t.Errorf("ftptest: the server recovered from a panic: %s", p)
	}
}
