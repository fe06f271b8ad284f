package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"golang.org/x/time/rate"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("ftp: server closed")

// Defaults for the zero values of Config.
const (
	defaultBanner             = "ferry FTP server ready."
	defaultIdleTimeout        = 5 * time.Minute
	defaultLoginTimeout       = time.Minute
	defaultDataConnectTimeout = 30 * time.Second
	defaultDataStallTimeout   = 2 * time.Minute
	defaultMaxSessions        = 500
	defaultMaxSessionsPerIP   = 20
	defaultMaxLineLength      = 4096
	defaultMinRateWindow      = 30 * time.Second
	// DefaultMaxDepth is Config.MaxDepth's default, and MaxMaxDepth its
	// largest value: below the 256 levels the start-up sweep of upload
	// temporaries walks (storage/local), with room to spare.
	DefaultMaxDepth         = 64
	MaxMaxDepth             = 200
	defaultFailedLoginDelay = time.Second
	defaultMaxLoginAttempts = 3
	// replyWriteTimeout bounds a reply write to a client that stopped reading.
	replyWriteTimeout = time.Minute
)

// Server is an FTP server. Create it with New; one Server may serve
// several listeners (plain and implicit TLS) at once.
type Server struct {
	cfg   Config // defaults filled in by New; read-only afterwards
	log   *slog.Logger
	ports *portAllocator
	guard *loginGuard
	// down and up cap the server's total transfer rate; nil: no cap.
	down, up *rate.Limiter

	// baseCtx is the parent of every session's context; cancelled by Close.
	baseCtx context.Context
	cancel  context.CancelFunc

	nextID     atomic.Uint64
	inShutdown atomic.Bool

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	perIP     map[netip.Addr]int
	users     map[string]*userState // logged-in users: sessions and shared limits
	sessionWG sync.WaitGroup

	// port20Warned makes the fallback from port 20 a single log line.
	port20Warned atomic.Bool
	// fastDone counts downloads finished in the session goroutine
	// (retrFast), for tests and metrics.
	fastDone atomic.Int64
	// passiveExpired counts passive listeners closed unused after the
	// data-connect timeout.
	passiveExpired atomic.Int64
	// hashKeepAlive, when not zero, replaces the interval of a long
	// digest's keep-alive lines (tests).
	hashKeepAlive time.Duration
	// shutdownRounds counts Shutdown's rounds over the sessions, so a
	// test can wait for some to pass instead of sleeping.
	shutdownRounds atomic.Int64
}

// New validates cfg, fills in defaults and returns a Server ready to Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Auth == nil {
		return nil, errors.New("server: Config.Auth is required")
	}
	if cfg.Banner == "" {
		cfg.Banner = defaultBanner
	}
	setDefault(&cfg.IdleTimeout, defaultIdleTimeout)
	setDefault(&cfg.LoginTimeout, defaultLoginTimeout)
	setDefault(&cfg.DataConnectTimeout, defaultDataConnectTimeout)
	setDefault(&cfg.DataStallTimeout, defaultDataStallTimeout)
	setDefault(&cfg.MaxSessions, defaultMaxSessions)
	setDefault(&cfg.MaxSessionsPerIP, defaultMaxSessionsPerIP)
	setDefault(&cfg.MaxLineLength, defaultMaxLineLength)
	setDefault(&cfg.MaxDepth, DefaultMaxDepth)
	setDefault(&cfg.MinRateWindow, defaultMinRateWindow)
	if cfg.MaxDepth < 1 || cfg.MaxDepth > MaxMaxDepth {
		return nil, fmt.Errorf("server: directory depth limit %d out of 1-%d", cfg.MaxDepth, MaxMaxDepth)
	}
	setDefault(&cfg.FailedLoginDelay, defaultFailedLoginDelay)
	setDefault(&cfg.MaxLoginAttempts, defaultMaxLoginAttempts)
	if cfg.CommandRate > 0 && cfg.CommandBurst <= 0 {
		cfg.CommandBurst = max(1, int(2*cfg.CommandRate))
	}
	switch {
	case cfg.Ban.After == 0:
		cfg.Ban = DefaultBanPolicy
	case cfg.Ban.After > 0:
		setDefault(&cfg.Ban.Window, DefaultBanPolicy.Window)
		setDefault(&cfg.Ban.For, DefaultBanPolicy.For)
	}
	if cfg.PassivePorts.Size() == 0 {
		if cfg.PassivePorts != (ftp.PortRange{}) {
			return nil, fmt.Errorf("server: passive port range %d-%d is empty", cfg.PassivePorts.Min, cfg.PassivePorts.Max)
		}
		cfg.PassivePorts = DefaultPassivePorts
	}
	if cfg.Advertise == nil {
		cfg.Advertise = LocalAdvertiser()
	}
	if cfg.TLS != nil {
		t := cfg.TLS.Clone()
		if t.MinVersion < tls.VersionTLS12 {
			t.MinVersion = tls.VersionTLS12
		}
		cfg.TLS = t
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:       cfg,
		log:       log,
		ports:     newPortAllocator(cfg.PassivePorts),
		guard:     newLoginGuard(cfg.Ban),
		baseCtx:   ctx,
		cancel:    cancel,
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[*session]struct{}),
		perIP:     make(map[netip.Addr]int),
		users:     make(map[string]*userState),
		down:      newByteLimiter(cfg.DownloadRate),
		up:        newByteLimiter(cfg.UploadRate),
	}, nil
}

// setDefault replaces a zero value with def; negative values mean "no limit"
// and are kept.
func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Serve accepts control connections on l until Shutdown or Close, and
// returns ErrServerClosed then.
func (s *Server) Serve(l net.Listener) error { return s.serve(l, false) }

// ServeImplicitTLS is Serve for an implicit-FTPS listener (port 990 by
// convention): every connection starts with a TLS handshake and data
// connections default to PROT P.
func (s *Server) ServeImplicitTLS(l net.Listener) error {
	if s.cfg.TLS == nil {
		return errors.New("server: implicit TLS needs Config.TLS")
	}
	return s.serve(l, true)
}

func (s *Server) serve(l net.Listener, implicitTLS bool) error {
	if !s.trackListener(l, true) {
		return ErrServerClosed
	}
	defer s.trackListener(l, false)
	if s.cfg.ActiveFromPort20 && !s.cfg.DisableActive {
		// Say at start, not at the first active transfer, that the
		// source port cannot be had (no root or CAP_NET_BIND_SERVICE).
		if p := addrPortOf(l.Addr()).Port(); p > 1 && !canBindPort(p-1) && s.port20Warned.CompareAndSwap(false, true) {
			s.log.Warn("cannot bind the active-mode source port; active connections will use ephemeral source ports", "port", p-1)
		}
	}
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			// Temporary failures (EMFILE, ECONNABORTED) must not end the
			// server: back off as net/http does and try again.
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("server: accept: %w", err)
		}
		backoff = 0
		s.startSession(c, implicitTLS)
	}
}

// isTemporary reports accept errors worth retrying: running out of file
// descriptors or a connection reset before accept finished.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) trackListener(l net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.inShutdown.Load() {
			return false
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

// startSession admits a control connection or turns it away with 421 when
// a session limit is reached.
func (s *Server) startSession(c net.Conn, implicitTLS bool) {
	remote := addrPortOf(c.RemoteAddr())
	ip := remote.Addr()
	s.mu.Lock()
	var refuse string
	switch {
	case s.inShutdown.Load():
		refuse = "Server shutting down."
	case s.banned(ip):
		refuse = "Too many failed logins from your address; try again later."
	case s.cfg.MaxSessions > 0 && len(s.sessions) >= s.cfg.MaxSessions:
		refuse = "Too many users, try again later."
	case s.cfg.MaxSessionsPerIP > 0 && s.perIP[ip] >= s.cfg.MaxSessionsPerIP:
		refuse = "Too many connections from your address."
	}
	if refuse != "" {
		s.mu.Unlock()
		s.log.Info("connection refused", "remote", remote, "reason", refuse)
		// The refusal is written without waiting long: a flood must not
		// tie up goroutines.
		go func() {
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Write(ftp.Format(ftp.CodeServiceUnavailable, refuse))
			_ = c.Close()
		}()
		return
	}
	ctx, cancel := context.WithCancel(s.baseCtx)
	sess := newSession(s, c, implicitTLS, cancel)
	s.sessions[sess] = struct{}{}
	s.perIP[ip]++
	s.sessionWG.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.sessionWG.Done()
		defer s.forget(sess, ip)
		sess.serve(ctx)
	}()
}

// banned reports whether ip is under a login ban. Called with s.mu held;
// the guard has its own lock.
func (s *Server) banned(ip netip.Addr) bool {
	b, _ := s.guard.ipBanned(ip)
	return b
}

func (s *Server) forget(sess *session, ip netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess)
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

// Shutdown stops accepting, closes idle sessions with a 421, lets running
// transfers finish until ctx is done, then closes every session. It
// returns ctx.Err() if sessions had to be cut.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	done := make(chan struct{})
	go func() { s.sessionWG.Wait(); close(done) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		for sess := range s.sessions {
			sess.closeIfIdle()
		}
		s.mu.Unlock()
		s.shutdownRounds.Add(1)
		select {
		case <-done:
			s.cancel()
			return nil
		case <-ctx.Done():
			s.cutSessions()
			s.cancel()
			<-done
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close closes every listener and session at once.
func (s *Server) Close() error {
	s.closeListeners()
	s.cancel()
	s.closeSessions()
	s.sessionWG.Wait()
	return nil
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inShutdown.Store(true)
	for l := range s.listeners {
		_ = l.Close()
	}
	clear(s.listeners)
}

// cutSessions ends every session at once, each telling its client why:
// 426 for a running transfer, then 421 (cutForShutdown).
func (s *Server) cutSessions() {
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, sess := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess.cutForShutdown()
		}()
	}
	wg.Wait()
}

func (s *Server) closeSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sess := range s.sessions {
		sess.closeNow()
	}
}

// addrPortOf converts a net.Addr from a TCP connection to an AddrPort with
// an unmapped address, so that IPv4 peers compare equal however they came.
func addrPortOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
