package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"golang.org/x/time/rate"
)

// session is one control connection and everything it has set up.
//
// The session goroutine (serve) owns every field not marked otherwise: it
// reads commands and runs handlers one at a time. A transfer runs in its
// own goroutine, and the session goroutine keeps reading meanwhile: ABOR
// acts at once, STAT and NOOP are answered at once when nothing waits
// before them, and every other command is queued and runs, in order, when
// the transfer has replied (see handleLine).
type session struct {
	srv    *Server
	id     uint64
	log    *slog.Logger
	remote netip.AddrPort // control peer, unmapped
	local  netip.AddrPort // control local address, unmapped

	// cancel ends the session's context (see serve), and with it every
	// transfer and storage call it started.
	cancel context.CancelFunc

	// conn is the control connection, replaced in place by AUTH TLS.
	// Written under wmu; replaced only by the session goroutine while no
	// transfer runs. raw is the TCP connection beneath it, never
	// replaced: other goroutines set its read deadline to wake the
	// session goroutine.
	conn net.Conn
	raw  net.Conn
	br   *bufio.Reader
	wmu  sync.Mutex

	// The command line being read: kept across reads, so that a read
	// woken up to run queued commands loses nothing (readCommand).
	lineBuf []byte // grows up to MaxLineLength
	tooLong bool   // the current line passed MaxLineLength
	telnet  uint8  // Telnet sequence state of the current line

	// Login state. loggedIn mirrors user != nil for other goroutines
	// (a ban closes the sessions of its address that have not logged in).
	loggedIn      atomic.Bool
	user          *User
	ustate        *userState // the user's shared session count and rate limits
	pendingUser   string     // after USER, before PASS
	loginFailures int
	loginDeadline time.Time

	// TLS state (RFC 4217).
	tls        *tlsBinder // ties data connections' TLS to this session; nil without TLS
	tlsControl bool       // the control connection is protected
	pbsz       bool       // PBSZ was sent; PROT is allowed

	// Transfer parameters.
	cwd        string // virtual absolute path, always clean
	binary     bool   // TYPE I (true) or TYPE A
	restOffset int64  // from REST, used by the next RETR/STOR
	allocate   int64  // from ALLO, checked by the next upload; 0: none
	rangeEnd   int64  // from RANG, used by the next HASH; 0 means to the end
	renameFrom string // virtual path from RNFR, used by the next RNTO
	utf8       bool
	mlstFacts  ftp.Facts
	hashAlgo   string

	// data is the data channel: what the next transfer connects with.
	data dataChan

	// xfer is the running transfer, or nil, and queued the commands read
	// while it runs, waiting for it. Guarded by xmu: the transfer
	// goroutine clears xfer, and ABOR, STAT and Shutdown read it.
	xmu    sync.Mutex
	xfer   *transfer
	queued []queuedCmd

	// inCommand is set while a command read from the client is being
	// handled; Shutdown closes only sessions waiting for a command, so
	// one that arrived just before it is answered, not cut.
	inCommand atomic.Bool

	// cmdLimit paces commands (Config.CommandRate); nil: no limit.
	cmdLimit *rate.Limiter

	closing sync.Once
}

// queuedCmd is a command read while a transfer ran, waiting to run.
type queuedCmd struct {
	cmd ftp.Command
	bad *ftp.Reply // a syntax error to send in cmd's place
	// aborted is set on an ABOR that ended the transfer it arrived
	// during: its own reply (226) comes in order, after the transfer's
	// 426 and the replies of the commands queued before it.
	aborted bool
}

// maxQueued bounds the commands queued behind a transfer. Clients
// pipeline a few (TYPE, PASV, RETR); a client that sends more than this
// while a transfer runs is flooding, and is disconnected.
const maxQueued = 64

func newSession(s *Server, c net.Conn, implicitTLS bool, cancel context.CancelFunc) *session {
	id := s.nextID.Add(1)
	remote := addrPortOf(c.RemoteAddr())
	sess := &session{
		srv:       s,
		id:        id,
		remote:    remote,
		local:     addrPortOf(c.LocalAddr()),
		cancel:    cancel,
		conn:      c,
		raw:       c,
		cwd:       "/",
		binary:    true,
		mlstFacts: ftp.AllFacts,
		hashAlgo:  "SHA-256",
		log:       s.log.With("session", id, "remote", remote.String()),
	}
	setOOBInline(c)
	if s.cfg.TLS != nil {
		sess.tls = newTLSBinder(s.cfg.TLS, s.cfg.TLSReuse)
	}
	sess.data = dataChan{srv: s, log: sess.log, local: sess.local, remote: remote, tls: sess.tls}
	if implicitTLS {
		sess.conn = tls.Server(c, sess.tls.controlConfig())
		sess.tlsControl = true
		sess.pbsz = true
		sess.data.setProtection(true)
	}
	sess.br = bufio.NewReaderSize(sess.conn, 512)
	if s.cfg.CommandRate > 0 {
		sess.cmdLimit = rate.NewLimiter(rate.Limit(s.cfg.CommandRate), s.cfg.CommandBurst)
	}
	return sess
}

// setLogger replaces the session's logger (at login) everywhere it is kept.
func (s *session) setLogger(l *slog.Logger) {
	s.log = l
	s.data.log = l
}

// setOOBInline keeps TCP urgent data in the stream. Classic clients send
// ABOR as Telnet IP, then Telnet DM as urgent data (RFC 959 4.1.3); inline,
// the DM byte reaches the Telnet filter in order and is dropped there.
func setOOBInline(c net.Conn) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_OOBINLINE, 1)
	})
}

// serve runs the session until QUIT, an error, or the server closing it.
// ctx is the session's own, cancelled when it ends.
func (s *session) serve(ctx context.Context) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			// One session's bug must not take the server down.
			s.log.Error("session panic", "panic", r, "stack", string(debug.Stack()))
		}
		s.abortTransfer()
		s.waitTransfer()
		s.data.reset()
		s.logout()
		s.closeNow()
		s.log.Info("session end", "duration", time.Since(start).Round(time.Millisecond))
	}()
	s.log.Info("session start", "local", s.local.String())
	s.loginDeadline = start.Add(s.srv.cfg.LoginTimeout)

	if tc, ok := s.conn.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(s.srv.cfg.LoginTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			s.log.Info("implicit TLS handshake failed", "err", err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
	}
	if err := s.reply(ftp.CodeServiceReady, s.srv.cfg.Banner); err != nil {
		return
	}
	for {
		if s.runQueued(ctx) {
			return
		}
		line, err := s.readCommand()
		switch {
		case errors.Is(err, errWake):
			continue
		case errors.Is(err, errLineTooLong):
			if s.handleParsed(ctx, ftp.Command{}, reply(ftp.CodeSyntaxError, "Command line too long.")) {
				return
			}
			continue
		case err != nil:
			s.logReadEnd(err)
			return
		}
		s.inCommand.Store(true)
		quit := s.handleLine(ctx, line)
		s.inCommand.Store(false)
		if quit {
			return
		}
		if s.srv.inShutdown.Load() && !s.busy() {
			_ = s.reply(ftp.CodeServiceUnavailable, "Server shutting down, closing control connection.")
			return
		}
	}
}

// handleLine paces and parses one command line, and runs or queues it
// (handleParsed). It reports whether the session should end.
func (s *session) handleLine(ctx context.Context, line string) (quit bool) {
	if s.cmdLimit != nil {
		// A flooding client is slowed down, not cut off: its commands
		// wait for tokens here.
		if err := s.cmdLimit.Wait(ctx); err != nil {
			return true
		}
	}
	cmd, err := ftp.ParseCommand(line)
	switch {
	case errors.Is(err, ftp.ErrEmptyCommand):
		return false
	case err != nil:
		return s.handleParsed(ctx, ftp.Command{}, reply(ftp.CodeSyntaxError, "Syntax error, command unrecognized."))
	}
	return s.handleParsed(ctx, cmd, nil)
}

// handleParsed runs cmd, or sends bad, its syntax error, in its place.
// While a transfer runs (or commands read during one still wait), it is
// queued instead, so that replies keep the order of the commands; only
// ABOR acts at once (it aborts the transfer, and its 226 comes in
// order), and STAT and NOOP are answered at once when nothing waits
// before them (RFC 959 4.1: ABOR and STAT may be sent during a transfer).
func (s *session) handleParsed(ctx context.Context, cmd ftp.Command, bad *ftp.Reply) (quit bool) {
	s.xmu.Lock()
	t := s.xfer
	if t == nil && len(s.queued) == 0 {
		s.xmu.Unlock()
		if bad != nil {
			return s.reply(bad.Code, bad.Msg) != nil
		}
		return s.dispatch(ctx, cmd)
	}
	q := queuedCmd{cmd: cmd, bad: bad}
	if t != nil && t.over {
		// The transfer has answered, or is answering: this command
		// waits for it to be gone, like any other.
		t = nil
	}
	if bad == nil {
		switch cmd.Verb {
		case "ABOR":
			if t != nil && !t.aborted.Load() {
				s.log.Debug("command", "verb", "ABOR", "during", t.verb)
				t.aborted.Store(true)
				t.cancel()
				q.aborted = true
			}
		case "STAT", "NOOP":
			if t != nil && len(s.queued) == 0 {
				s.xmu.Unlock()
				return s.dispatch(ctx, cmd)
			}
		}
	}
	if len(s.queued) >= maxQueued {
		s.xmu.Unlock()
		s.log.Warn("too many commands queued behind a transfer; closing", "queued", maxQueued)
		_ = s.reply(ftp.CodeServiceUnavailable, "Too many commands sent during a transfer, closing control connection.")
		return true
	}
	s.queued = append(s.queued, q)
	s.xmu.Unlock()
	return false
}

// runQueued runs the commands queued behind a transfer, in order, as
// long as no transfer runs (a queued RETR starts one: the rest wait for
// it). It reports whether the session should end.
func (s *session) runQueued(ctx context.Context) (quit bool) {
	for {
		s.xmu.Lock()
		if s.xfer != nil || len(s.queued) == 0 {
			if len(s.queued) == 0 {
				s.queued = nil // a burst's backing array is not kept
			}
			s.xmu.Unlock()
			return false
		}
		q := s.queued[0]
		s.queued = s.queued[1:]
		s.xmu.Unlock()

		s.inCommand.Store(true)
		switch {
		case q.bad != nil:
			quit = s.reply(q.bad.Code, q.bad.Msg) != nil
		case q.aborted:
			// The transfer has answered 426 (RFC 959 4.1.3).
			s.data.reset()
			quit = s.reply(ftp.CodeTransferComplete, "ABOR successful.") != nil
		default:
			quit = s.dispatch(ctx, q.cmd)
		}
		s.inCommand.Store(false)
		if quit {
			return true
		}
	}
}

func (s *session) logReadEnd(err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		s.log.Debug("control connection closed by peer")
	case errors.Is(err, errIdle):
		s.log.Info("idle timeout")
		_ = s.reply(ftp.CodeServiceUnavailable, "Timeout: closing control connection.")
	case errors.Is(err, errLoginTimeout):
		s.log.Info("login timeout")
		_ = s.reply(ftp.CodeServiceUnavailable, "Login timeout: closing control connection.")
	default:
		s.log.Debug("control read failed", "err", err)
	}
}

var (
	errLineTooLong  = errors.New("command line too long")
	errIdle         = errors.New("idle timeout")
	errLoginTimeout = errors.New("login timeout")
	// errWake: a read was interrupted because commands queued behind a
	// transfer may now run. The line being read is kept.
	errWake = errors.New("queued commands may run")
)

// Telnet bytes that may appear on the control connection (RFC 854).
const (
	telnetIAC  = 255
	telnetDont = 254
	telnetWill = 251
)

// States of the Telnet filter between bytes of a line.
const (
	telnetData     = iota
	telnetAfterIAC // IAC read: a command byte follows
	telnetOption   // IAC WILL/WONT/DO/DONT read: an option byte follows
)

// readCommand reads one command line with the Telnet sequences removed.
// It never holds more than MaxLineLength bytes: the rest of an over-long
// line is read and dropped, and errLineTooLong is returned once its end
// arrives. The idle timeout does not fire while a transfer runs. The
// line read so far is kept in the session, so a read that returns
// errWake goes on where it stopped.
func (s *session) readCommand() (string, error) {
	limit := s.srv.cfg.MaxLineLength
	if err := s.armReadDeadline(); err != nil {
		return "", err
	}
	for {
		b, err := s.br.ReadByte()
		if err != nil {
			if !timeoutError(err) {
				return "", err
			}
			s.xmu.Lock()
			running, wake := s.xfer != nil, s.xfer == nil && len(s.queued) > 0
			s.xmu.Unlock()
			switch {
			case wake:
				return "", errWake
			case running:
				// The control connection is quiet during a long
				// transfer; that is not idleness.
				if err := s.armReadDeadline(); err != nil {
					return "", err
				}
				continue
			case s.user == nil && !time.Now().Before(s.loginDeadline):
				return "", errLoginTimeout
			}
			return "", errIdle
		}
		switch s.telnet {
		case telnetAfterIAC:
			s.telnet = telnetData
			switch {
			case b == telnetIAC:
				// An escaped 0xFF is a data byte (RFC 854).
			case b >= telnetWill && b <= telnetDont:
				// Option negotiation: ferry negotiates nothing, so the
				// option byte is read and dropped.
				s.telnet = telnetOption
				continue
			default:
				// IP, DM, AO, AYT, ...: no meaning for FTP beyond
				// announcing an ABOR, which follows as a normal line.
				continue
			}
		case telnetOption:
			s.telnet = telnetData
			continue
		default:
			if b == telnetIAC {
				s.telnet = telnetAfterIAC
				continue
			}
			if b == '\n' {
				buf, tooLong := s.lineBuf, s.tooLong
				s.lineBuf, s.tooLong = buf[:0], false
				if tooLong {
					return "", errLineTooLong
				}
				if n := len(buf); n > 0 && buf[n-1] == '\r' {
					buf = buf[:n-1]
				}
				return string(buf), nil
			}
		}
		if len(s.lineBuf) >= limit {
			s.tooLong = true
			continue
		}
		s.lineBuf = append(s.lineBuf, b)
	}
}

// armReadDeadline bounds the next command read by the idle timeout, or by
// the login deadline before login. It returns errWake instead when
// commands queued behind a transfer that has ended are waiting: the
// transfer woke the reader (finishTransfer) before this deadline would
// have replaced its wake-up, and under the same lock.
func (s *session) armReadDeadline() error {
	d := time.Now().Add(s.srv.cfg.IdleTimeout)
	if s.user == nil && s.loginDeadline.Before(d) {
		d = s.loginDeadline
	}
	if s.srv.cfg.IdleTimeout < 0 && s.user != nil {
		d = time.Time{}
	}
	s.xmu.Lock()
	defer s.xmu.Unlock()
	if s.xfer == nil && len(s.queued) > 0 {
		return errWake
	}
	return s.raw.SetReadDeadline(d)
}

// reply writes one reply. It is safe from any goroutine.
func (s *session) reply(code int, text string) error {
	return s.writeRaw(ftp.Format(code, text))
}

// replyErr writes the reply for err (see replyFor) and logs what the client
// is not told.
func (s *session) replyErr(err error) error {
	r := s.replyFor(err)
	return s.reply(r.Code, r.Msg)
}

func (s *session) writeRaw(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(replyWriteTimeout))
	_, err := s.conn.Write(b)
	return err
}

// transfer returns the running transfer, or nil.
func (s *session) transfer() *transfer {
	s.xmu.Lock()
	defer s.xmu.Unlock()
	return s.xfer
}

// busy reports whether a transfer runs or commands wait for one.
func (s *session) busy() bool {
	s.xmu.Lock()
	defer s.xmu.Unlock()
	return s.xfer != nil || len(s.queued) > 0
}

// waitTransfer blocks until the running transfer, if any, has replied.
func (s *session) waitTransfer() {
	if t := s.transfer(); t != nil {
		<-t.done
	}
}

// abortTransfer aborts the running transfer, if any, without waiting.
func (s *session) abortTransfer() {
	if t := s.transfer(); t != nil {
		t.aborted.Store(true)
		t.cancel()
	}
}

// closeIfIdle ends the session if it is waiting for a command, telling
// the client why. Called by Shutdown from another goroutine.
func (s *session) closeIfIdle() {
	if s.inCommand.Load() || s.busy() {
		return
	}
	_ = s.reply(ftp.CodeServiceUnavailable, "Server shutting down, closing control connection.")
	s.closeNow()
}

// cutForShutdown ends the session when Shutdown's grace is over: a
// running transfer is cut and answered (426), then the session (421), so
// the client learns why rather than seeing the connection drop. Each
// wait is bounded, so a client that stopped reading cannot hold it up.
func (s *session) cutForShutdown() {
	if t := s.transfer(); t != nil {
		t.cut.Store(true)
		t.cancel()
		select {
		case <-t.done:
		case <-time.After(cutWait):
		}
	}
	s.wmu.Lock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(cutWait))
	_, _ = s.conn.Write(ftp.Format(ftp.CodeServiceUnavailable, "Server shutting down, closing control connection."))
	s.wmu.Unlock()
	s.closeNow()
}

// cutWait bounds each step of cutForShutdown.
const cutWait = 5 * time.Second

// closeNow closes the control connection and cancels everything the
// session started. Safe from any goroutine, any number of times.
func (s *session) closeNow() {
	s.closing.Do(func() {
		s.cancel()
		s.wmu.Lock()
		c := s.conn
		s.wmu.Unlock()
		_ = c.Close()
	})
}

// replyFor maps an error to the reply the client sees. Storage errors
// become their FTP codes here, in one place; anything unexpected is
// logged with its detail and the client sees only "local error".
func (s *session) replyFor(err error) *ftp.Reply {
	var r *ftp.Reply
	if errors.As(err, &r) {
		return r
	}
	code, msg := storageReply(err)
	if code == ftp.CodeLocalError {
		s.log.Warn("storage error", "err", err)
	} else {
		s.log.Debug("request refused", "err", err)
	}
	return &ftp.Reply{Code: code, Msg: msg}
}

// timeoutError reports whether err is a deadline expiry.
func timeoutError(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
