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
// own goroutine so that ABOR, STAT and QUIT are still heard; while it runs,
// the session goroutine handles only those and waits for the transfer
// before running anything else, so pipelined commands keep their order.
type session struct {
	srv    *Server
	id     uint64
	log    *slog.Logger
	remote netip.AddrPort // control peer, unmapped
	local  netip.AddrPort // control local address, unmapped

	ctx    context.Context // cancelled when the session ends
	cancel context.CancelFunc

	// conn is the control connection, replaced in place by AUTH TLS.
	// Written under wmu; replaced only by the session goroutine while no
	// transfer runs.
	conn net.Conn
	br   *bufio.Reader
	wmu  sync.Mutex

	lineBuf []byte // reused by readLine; grows up to MaxLineLength

	// Login state.
	user          *User
	ustate        *userState // the user's shared session count and rate limits
	pendingUser   string     // after USER, before PASS
	loginFailures int
	loginDeadline time.Time

	// TLS state (RFC 4217).
	tlsControl bool   // the control connection is protected
	tlsBinding []byte // Extra entry tying this session's TLS tickets to it
	pbsz       bool   // PBSZ was sent; PROT is allowed
	protP      bool   // data connections are protected

	// Transfer parameters.
	cwd        string // virtual absolute path, always clean
	binary     bool   // TYPE I (true) or TYPE A
	restOffset int64  // from REST, used by the next RETR/STOR
	rangeEnd   int64  // from RANG, used by the next HASH; 0 means to the end
	renameFrom string // virtual path from RNFR, used by the next RNTO
	utf8       bool
	mlstFacts  ftp.Facts
	hashAlgo   string

	// Data connection set-up (PASV/EPSV/PORT/EPRT).
	pasv    *passiveListener // pending passive listener, or nil
	active  netip.AddrPort   // target of PORT/EPRT, valid when pasv is nil
	dataCmd string           // which command set the data connection up
	epsvAll bool             // after EPSV ALL only EPSV may set up data connections

	// xfer is the running transfer, or nil. Guarded by xmu because ABOR
	// and Shutdown read it from other goroutines.
	xmu  sync.Mutex
	xfer *transfer

	// inCommand is set while a command read from the client is being
	// handled; Shutdown closes only sessions waiting for a command, so
	// one that arrived just before it is answered, not cut.
	inCommand atomic.Bool

	// cmdLimit paces commands (Config.CommandRate); nil: no limit.
	cmdLimit *rate.Limiter

	closing sync.Once
}

// transfer is a running data transfer.
type transfer struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the transfer goroutine has replied
	// aborted is set by ABOR before cancel, so that the transfer replies
	// 426 "aborted" rather than a connection error.
	aborted bool
}

func newSession(s *Server, c net.Conn, implicitTLS bool) *session {
	id := s.nextID.Add(1)
	remote := addrPortOf(c.RemoteAddr())
	ctx, cancel := context.WithCancel(s.baseCtx)
	sess := &session{
		srv:       s,
		id:        id,
		remote:    remote,
		local:     addrPortOf(c.LocalAddr()),
		ctx:       ctx,
		cancel:    cancel,
		conn:      c,
		cwd:       "/",
		binary:    true,
		mlstFacts: ftp.AllFacts,
		hashAlgo:  "SHA-256",
		log:       s.log.With("session", id, "remote", remote.String()),
	}
	setOOBInline(c)
	if s.cfg.TLS != nil {
		sess.tlsBinding = newTLSBinding()
	}
	if implicitTLS {
		sess.conn = tls.Server(c, sess.controlTLSConfig())
		sess.tlsControl = true
		sess.pbsz = true
		sess.protP = true
	}
	sess.br = bufio.NewReaderSize(sess.conn, 512)
	if s.cfg.CommandRate > 0 {
		sess.cmdLimit = rate.NewLimiter(rate.Limit(s.cfg.CommandRate), s.cfg.CommandBurst)
	}
	return sess
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
func (s *session) serve() {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			// One session's bug must not take the server down.
			s.log.Error("session panic", "panic", r, "stack", string(debug.Stack()))
		}
		s.endTransfer(true)
		s.closePassive()
		s.logout()
		s.closeNow()
		s.log.Info("session end", "duration", time.Since(start).Round(time.Millisecond))
	}()
	s.log.Info("session start", "local", s.local.String())
	s.loginDeadline = start.Add(s.srv.cfg.LoginTimeout)

	if tc, ok := s.conn.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(s.srv.cfg.LoginTimeout))
		if err := tc.HandshakeContext(s.ctx); err != nil {
			s.log.Info("implicit TLS handshake failed", "err", err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
	}
	if err := s.reply(ftp.CodeServiceReady, s.srv.cfg.Banner); err != nil {
		return
	}
	for {
		line, err := s.readCommand()
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				if s.reply(ftp.CodeSyntaxError, "Command line too long.") != nil {
					return
				}
				continue
			}
			s.logReadEnd(err)
			return
		}
		s.inCommand.Store(true)
		quit := s.handleLine(line)
		s.inCommand.Store(false)
		if quit {
			return
		}
		if s.srv.inShutdown.Load() && !s.transferring() {
			_ = s.reply(ftp.CodeServiceUnavailable, "Server shutting down, closing control connection.")
			return
		}
	}
}

// handleLine paces, parses and runs one command line, and reports whether
// the session should end.
func (s *session) handleLine(line string) (quit bool) {
	if s.cmdLimit != nil {
		// A flooding client is slowed down, not cut off: its commands
		// wait for tokens here.
		if err := s.cmdLimit.Wait(s.ctx); err != nil {
			return true
		}
	}
	cmd, err := ftp.ParseCommand(line)
	switch {
	case errors.Is(err, ftp.ErrEmptyCommand):
		return false
	case err != nil:
		return s.reply(ftp.CodeSyntaxError, "Syntax error, command unrecognized.") != nil
	}
	return s.dispatch(cmd)
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
)

// Telnet bytes that may appear on the control connection (RFC 854).
const (
	telnetIAC  = 255
	telnetDont = 254
	telnetWill = 251
)

// readCommand reads one command line with the Telnet sequences removed.
// It never holds more than MaxLineLength bytes: the rest of an over-long
// line is read and dropped, and errLineTooLong is returned once its end
// arrives. The idle timeout does not fire while a transfer runs.
func (s *session) readCommand() (string, error) {
	limit := s.srv.cfg.MaxLineLength
	buf := s.lineBuf[:0]
	tooLong := false
	if err := s.armReadDeadline(); err != nil {
		return "", err
	}
	for {
		b, err := s.br.ReadByte()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if s.transferring() {
					// The control connection is quiet during a long
					// transfer; that is not idleness.
					if err := s.armReadDeadline(); err != nil {
						return "", err
					}
					continue
				}
				if s.user == nil && !time.Now().Before(s.loginDeadline) {
					return "", errLoginTimeout
				}
				return "", errIdle
			}
			return "", err
		}
		if b == telnetIAC {
			c, err := s.br.ReadByte()
			if err != nil {
				return "", err
			}
			switch {
			case c == telnetIAC:
				// An escaped 0xFF is a data byte (RFC 854).
			case c >= telnetWill && c <= telnetDont:
				// Option negotiation: ferry negotiates nothing, so the
				// option byte is read and dropped.
				if _, err := s.br.ReadByte(); err != nil {
					return "", err
				}
				continue
			default:
				// IP, DM, AO, AYT, ...: no meaning for FTP beyond
				// announcing an ABOR, which follows as a normal line.
				continue
			}
		}
		if b == '\n' {
			if tooLong {
				s.lineBuf = buf
				return "", errLineTooLong
			}
			if n := len(buf); n > 0 && buf[n-1] == '\r' {
				buf = buf[:n-1]
			}
			s.lineBuf = buf
			return string(buf), nil
		}
		if len(buf) >= limit {
			tooLong = true
			continue
		}
		buf = append(buf, b)
	}
}

// armReadDeadline bounds the next command read by the idle timeout, or by
// the login deadline before login.
func (s *session) armReadDeadline() error {
	d := time.Now().Add(s.srv.cfg.IdleTimeout)
	if s.user == nil && s.loginDeadline.Before(d) {
		d = s.loginDeadline
	}
	if s.srv.cfg.IdleTimeout < 0 && s.user != nil {
		d = time.Time{}
	}
	return s.conn.SetReadDeadline(d)
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

// transferring reports whether a transfer goroutine is running.
func (s *session) transferring() bool {
	s.xmu.Lock()
	defer s.xmu.Unlock()
	return s.xfer != nil
}

// startTransfer runs fn in its own goroutine as the session's transfer.
// fn writes its own final reply. The caller must hold no transfer.
func (s *session) startTransfer(fn func(ctx context.Context, t *transfer)) {
	ctx, cancel := context.WithCancel(s.ctx)
	t := &transfer{cancel: cancel, done: make(chan struct{})}
	s.xmu.Lock()
	s.xfer = t
	s.xmu.Unlock()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("transfer panic", "panic", r, "stack", string(debug.Stack()))
				_ = s.reply(ftp.CodeLocalError, "Local error in processing.")
				s.closeNow()
			}
			cancel()
			s.xmu.Lock()
			s.xfer = nil
			s.xmu.Unlock()
			close(t.done)
		}()
		fn(ctx, t)
	}()
}

// waitTransfer blocks until the running transfer, if any, has replied.
func (s *session) waitTransfer() {
	s.xmu.Lock()
	t := s.xfer
	s.xmu.Unlock()
	if t != nil {
		<-t.done
	}
}

// endTransfer aborts the running transfer, if any, and waits for it.
// It reports whether there was one.
func (s *session) endTransfer(abort bool) bool {
	s.xmu.Lock()
	t := s.xfer
	if t != nil && abort {
		t.aborted = true
		t.cancel()
	}
	s.xmu.Unlock()
	if t == nil {
		return false
	}
	<-t.done
	return true
}

// isAborted reports whether ABOR ended t.
func (s *session) isAborted(t *transfer) bool {
	s.xmu.Lock()
	defer s.xmu.Unlock()
	return t.aborted
}

// closeIfIdle ends the session if no transfer runs, telling the client why.
// Called by Shutdown from another goroutine.
func (s *session) closeIfIdle() {
	if s.inCommand.Load() || s.transferring() {
		return
	}
	_ = s.reply(ftp.CodeServiceUnavailable, "Server shutting down, closing control connection.")
	s.closeNow()
}

// closeNow closes the control connection and cancels everything the
// session started. Safe from any goroutine, any number of times.
func (s *session) closeNow() {
	s.closing.Do(func() {
		s.cancel()
		_ = s.conn.Close()
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
