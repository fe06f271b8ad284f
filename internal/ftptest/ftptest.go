// Package ftptest runs a real ferry server for tests, as net/http/httptest
// does for HTTP: NewServer starts a server.Server on 127.0.0.1:0 over a
// temporary directory, with known accounts and a free passive range, and
// stops it when the test ends. Conn speaks the control protocol line by
// line for transcript tests, against this server or any other, and opens
// data connections in every mode (Open), TLS included (OpenTLS).
//
//	ts := ftptest.NewServer(t, func(c *server.Config) { c.AtomicUploads = true })
//	c := ts.Dial(t)
//	c.Login(ftptest.User, ftptest.Password)
//	c.Script([]ftptest.Step{
//		{Send: "PWD", Want: `257 "/"`},
//		{Send: "MKD d", Want: "257"},
//		{Send: "DELE nothing", Want: "550"},
//	})
//	ts.WriteFile(t, "f", []byte("data"))
//	got := ftptest.ReadAll(t, c.Open("EPSV", "RETR f"))
//	c.Expect(226)
package ftptest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
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

	t      testing.TB
	fsys   *local.FS
	log    *logWriter
	mu     sync.Mutex // guards closed and serveErrs, and Add on serving
	closed bool
	// serving counts the running Serve calls; each appends its error.
	serving   sync.WaitGroup
	serveErrs []error
	closeOnce sync.Once
}

// NewServer starts a server on 127.0.0.1:0 and closes it when the test
// ends. Each configure function may change any field of the config,
// which holds, before they run: Auth with the accounts above, a free
// passive range of 8 ports, a 1ms failed-login delay, and a Logger that
// writes to the test's log and fails the test if the server recovered
// from a panic in a session or transfer. A configure function may wrap
// Auth (see UserQuota) or replace it. If Config.TLS is set after them,
// the server also listens for implicit TLS at ImplicitAddr.
//
// Root is a directory of its own in a temporary directory that holds
// nothing else, so that a test can check nothing was written beside it.
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
	s := &Server{Root: filepath.Join(t.TempDir(), "root"), Cert: cert, t: t, log: &logWriter{t: t}}
	if err := os.Mkdir(s.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	fsys, err := local.New(s.Root)
	if err != nil {
		t.Fatal(err)
	}
	s.fsys = fsys
	cfg := server.Config{
		Auth:             accounts{fsys},
		PassivePorts:     FreePorts(t, 8),
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
	s.Addr = s.serve(t, listenLoopback(t), s.Server.Serve)
	if cfg.TLS != nil {
		s.ImplicitAddr = s.serve(t, listenLoopback(t), s.Server.ServeImplicitTLS)
	}
	return s
}

func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// FreePorts returns a passive port range of n ports that 127.0.0.1 can
// bind now (see testenv.FreePortRange), for a configure function that
// needs a range of a known size.
func FreePorts(t testing.TB, n int) ftp.PortRange {
	t.Helper()
	lo, hi := testenv.FreePortRange(t, n)
	return ftp.PortRange{Min: uint16(lo), Max: uint16(hi)}
}

// serve runs serve on l until Close and returns l's address.
func (s *Server) serve(t testing.TB, l net.Listener, serve func(net.Listener) error) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		l.Close()
		t.Fatal("ftptest: listening on a closed Server")
	}
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		err := serve(l)
		s.mu.Lock()
		s.serveErrs = append(s.serveErrs, err)
		s.mu.Unlock()
	}()
	return l.Addr().String()
}

// ServeIPv6 makes the server serve plain FTP on [::1]:0 too, until
// Close, and returns that listener's host:port. On a host without an
// IPv6 loopback the test fails in CI and skips elsewhere
// (testenv.Missing).
func (s *Server) ServeIPv6(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		testenv.Missing(t, "no IPv6 loopback: "+err.Error())
		return "" // for a testing.TB whose Skip returns
	}
	return s.serve(t, l, s.Server.Serve)
}

// Close closes the server and every session at once, and waits until
// it has stopped serving. It is called when the test ends; calling it
// before is fine.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.Server.Close()
		s.serving.Wait()
		for _, err := range s.serveErrs {
			if !errors.Is(err, server.ErrServerClosed) {
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

// DialFrom opens a control connection to the server from the loopback
// address from (see DialFrom).
func (s *Server) DialFrom(t testing.TB, from string) *Conn {
	t.Helper()
	return DialFrom(t, s.Addr, from)
}

// WriteFile writes data to the file name (slash-separated, relative to
// Root), making the directories it needs.
func (s *Server) WriteFile(t testing.TB, name string, data []byte) {
	t.Helper()
	p := filepath.Join(s.Root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ReadFile returns the contents of the file name (slash-separated,
// relative to Root), failing the test if it cannot be read.
func (s *Server) ReadFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Root, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// OnLog returns a channel that is closed when the server next logs a
// line containing substr ("verb=RETR"): a readiness signal for what only
// the log tells. It works while the Logger is the one NewServer set.
func (s *Server) OnLog(substr string) <-chan struct{} {
	return s.log.wait(substr)
}

// UserQuota returns a configure function that gives the account name the
// quota q: it wraps Config.Auth as the earlier configure functions left
// it.
func UserQuota(name string, q server.Quota) func(*server.Config) {
	return func(c *server.Config) { c.Auth = withQuota{c.Auth, name, q} }
}

type withQuota struct {
	server.Authenticator
	name  string
	quota server.Quota
}

func (a withQuota) Authenticate(ctx context.Context, req server.LoginRequest) (*server.User, error) {
	u, err := a.Authenticator.Authenticate(ctx, req)
	if err == nil && u.Name == a.name {
		u.Quota = a.quota
	}
	return u, err
}

// accounts is the authenticator NewServer installs. It goes by the
// credentials alone and ignores LoginRequest.Refuse, so that a test
// sees the server refuse a locked name on its own.
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
	t       testing.TB
	mu      sync.Mutex
	closed  bool
	panics  []string
	waiters []logWaiter
}

// A logWaiter is a channel to close at the first line containing substr.
type logWaiter struct {
	substr string
	ch     chan struct{}
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
	kept := w.waiters[:0]
	for _, lw := range w.waiters {
		if strings.Contains(line, lw.substr) {
			close(lw.ch)
		} else {
			kept = append(kept, lw)
		}
	}
	w.waiters = kept
	return len(p), nil
}

func (w *logWriter) wait(substr string) <-chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	w.waiters = append(w.waiters, logWaiter{substr, ch})
	w.mu.Unlock()
	return ch
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
