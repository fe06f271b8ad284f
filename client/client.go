// Package client is an FTP client: it dials a server, logs in, secures
// the session with explicit (AUTH TLS) or implicit TLS, opens data
// connections in every mode (EPSV, PASV, EPRT, PORT) and transfers files
// with resume. It is shaped like net/smtp: a Conn wraps one control
// connection and each method sends one command and checks its reply.
//
// A Conn is not safe for concurrent use, except Abort, which may be
// called from another goroutine to stop the transfer in progress.
package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// Error kinds. Every error a Conn returns for a failure of one of these
// kinds wraps the matching value, so the CLI can map it to an exit code
// with errors.Is; a negative reply is also an *ftp.Reply for errors.As.
var (
	// ErrConnection: the control connection could not be opened, the
	// greeting or TLS negotiation failed, or the connection broke.
	ErrConnection = errors.New("ftp connection failed")
	// ErrLogin: the server refused the user name or password.
	ErrLogin = errors.New("ftp login failed")
	// ErrTransfer: a data connection could not be opened or a transfer
	// did not complete.
	ErrTransfer = errors.New("ftp transfer failed")
	// ErrVerification: a transferred file does not match what the server
	// reports for it (size or hash).
	ErrVerification = errors.New("ftp verification failed")
	// ErrAborted: the transfer was stopped by Abort or its context.
	ErrAborted = errors.New("ftp transfer aborted")
)

// Limits on what the server may send on the control connection.
const (
	maxLineLen    = 8 << 10 // one reply line
	maxReplyBytes = 4 << 20 // a whole multi-line reply (STAT of a big directory)
)

// Direction says which way a line of the debug transcript went.
type Direction int

const (
	Sent     Direction = iota // a command, written as "---> VERB arg"
	Received                  // a reply line, as received
	Note                      // something the client decided, e.g. a PASV address override
)

func (d Direction) String() string {
	switch d {
	case Sent:
		return "sent"
	case Received:
		return "received"
	}
	return "note"
}

// Conn is a client connection to an FTP server.
type Conn struct {
	cfg  config
	conn net.Conn // control connection; a *tls.Conn once TLS is on
	r    *bufio.Reader
	host string     // host part of the dialed address, for TLS ServerName
	peer netip.Addr // the control connection's remote address

	tlsConf *tls.Config // non-nil once the control connection is TLS; data connections reuse its session cache
	protP   bool        // PROT P accepted: data connections are TLS too

	features map[string]string // FEAT, upper-case names

	// Data-connection state, owned by the goroutine running commands.
	noEPSV, noEPRT bool   // the server refused the extended command; use the RFC 959 one
	autoActive     string // why ModeAuto switched to active for good; "" while passive works
	last           DataInfo

	// broken is set when the control stream is out of sync (a read was
	// interrupted mid-reply); every later call fails with it.
	broken error

	mu     sync.Mutex         // guards cancel
	cancel context.CancelFunc // stops the transfer in progress; nil if none
}

// Dial connects to addr (host:port), reads the greeting, negotiates TLS
// if an option asks for it and reads the server's features.
func Dial(ctx context.Context, addr string, opts ...Option) (*Conn, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnection, err)
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnection, err)
	}
	c := &Conn{cfg: cfg, conn: nc, host: host, features: map[string]string{}}
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		c.peer = ap.Addr().Unmap()
	}
	if err := c.start(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *Conn) start(ctx context.Context) error {
	if c.cfg.tlsConf != nil && c.cfg.implicit {
		if err := c.handshake(ctx); err != nil {
			return err
		}
	} else {
		c.r = bufio.NewReaderSize(c.conn, 4096)
	}
	rep, err := c.readReply(ctx)
	if err != nil {
		return fmt.Errorf("%w: reading greeting: %w", ErrConnection, err)
	}
	if rep.Code == ftp.CodeServiceSoon {
		if rep, err = c.readReply(ctx); err != nil {
			return fmt.Errorf("%w: reading greeting: %w", ErrConnection, err)
		}
	}
	if rep.Code != ftp.CodeServiceReady {
		return fmt.Errorf("%w: greeting: %w", ErrConnection, rep)
	}
	if c.cfg.tlsConf != nil && !c.cfg.implicit {
		if _, err := c.cmd(ctx, ftp.CodeAuthOK, "AUTH", "TLS"); err != nil {
			return fmt.Errorf("%w: AUTH TLS: %w", ErrConnection, err)
		}
		if err := c.handshake(ctx); err != nil {
			return err
		}
	}
	c.readFeatures(ctx)
	return nil
}

// handshake puts TLS on the control connection. The config gets a
// session cache shared with the data connections, which must resume
// this session (RFC 4217 section 10.2; vsftpd's require_ssl_reuse).
func (c *Conn) handshake(ctx context.Context) error {
	cfg := c.cfg.tlsConf.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = c.host
	}
	if cfg.ClientSessionCache == nil {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	}
	tc := tls.Client(c.conn, cfg)
	hctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return fmt.Errorf("%w: TLS handshake: %w", ErrConnection, err)
	}
	c.conn = tc
	c.r = bufio.NewReaderSize(tc, 4096)
	c.tlsConf = cfg
	return nil
}

// readFeatures sends FEAT and records the features. A server without
// FEAT (RFC 959 only) simply has none.
func (c *Conn) readFeatures(ctx context.Context) {
	rep, err := c.cmd(ctx, ftp.CodeSystemStatus, "FEAT", "")
	if err != nil {
		return
	}
	for i, l := range rep.Lines {
		if i == 0 || i == len(rep.Lines)-1 {
			continue // "Features:" and "End"
		}
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		name, params, _ := strings.Cut(l, " ")
		c.features[strings.ToUpper(name)] = params
	}
}

// TLSState returns the control connection's TLS state, and false if
// the session is not secured.
func (c *Conn) TLSState() (tls.ConnectionState, bool) {
	if tc, ok := c.conn.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// Features returns the server's FEAT reply as feature name (upper case)
// to parameters, e.g. "MLST" -> "type*;size*;modify*;". It is read once
// when the connection starts; the map must not be modified.
func (c *Conn) Features() map[string]string { return c.features }

// Login authenticates with USER and PASS, then, on a TLS session, sets
// up protected data connections (PBSZ 0, PROT P) and finally selects
// binary transfers (TYPE I), as the classic client does.
func (c *Conn) Login(ctx context.Context, user, pass string) error {
	rep, err := c.cmd(ctx, 0, "USER", user)
	if err != nil {
		return loginErr(err)
	}
	if rep.Code == ftp.CodeNeedPassword {
		rep, err = c.cmd(ctx, 0, "PASS", pass)
		if err != nil {
			return loginErr(err)
		}
	}
	if rep.Code != ftp.CodeLoggedIn && rep.Code != ftp.CodeNotImplSuperfluous {
		return loginErr(rep)
	}
	if c.tlsConf != nil {
		if _, err := c.cmd(ctx, ftp.CodeOK, "PBSZ", "0"); err != nil {
			return fmt.Errorf("%w: PBSZ: %w", ErrConnection, err)
		}
		if _, err := c.cmd(ctx, ftp.CodeOK, "PROT", "P"); err != nil {
			return fmt.Errorf("%w: PROT P: %w", ErrConnection, err)
		}
		c.protP = true
	}
	return c.Type(ctx, true)
}

func loginErr(err error) error {
	var rep *ftp.Reply
	if errors.As(err, &rep) {
		return fmt.Errorf("%w: %w", ErrLogin, err)
	}
	return err
}

// Quit sends QUIT and closes the connection.
func (c *Conn) Quit(ctx context.Context) error {
	_, err := c.cmd(ctx, ftp.CodeClosing, "QUIT", "")
	cerr := c.conn.Close()
	if err != nil {
		return err
	}
	return cerr
}

// Close closes the control connection without QUIT.
func (c *Conn) Close() error { return c.conn.Close() }

// Quote sends line as it is and returns the server's reply, positive or
// negative; the error is only for a line that cannot be sent (empty, or
// with CR, LF or NUL inside) or a broken connection. A 1yz reply is
// returned as well: Quote opens no data connection. The verb is not
// checked against ftp.ParseCommand's rules, so that extensions with
// digits (XMD5, XSHA256) can be tried.
func (c *Conn) Quote(ctx context.Context, line string) (*ftp.Reply, error) {
	line = strings.TrimLeft(line, " ")
	if line == "" {
		return nil, ftp.ErrEmptyCommand
	}
	verb, arg, _ := strings.Cut(line, " ")
	if err := c.send(ctx, verb, arg); err != nil {
		return nil, err
	}
	return c.readReply(ctx)
}

// cmd sends one command and reads its reply. With expect != 0 a reply
// with another code is returned as an error; with expect 0 any reply
// below 400 is accepted. Negative replies are always errors (*ftp.Reply).
func (c *Conn) cmd(ctx context.Context, expect int, verb, arg string) (*ftp.Reply, error) {
	if err := c.send(ctx, verb, arg); err != nil {
		return nil, err
	}
	rep, err := c.readReply(ctx)
	if err != nil {
		return nil, err
	}
	if !rep.Positive() || (expect != 0 && rep.Code != expect) {
		return rep, rep
	}
	return rep, nil
}

// send writes "verb arg\r\n". An argument with CR, LF or NUL is refused:
// it would smuggle a second command onto the control connection.
func (c *Conn) send(ctx context.Context, verb, arg string) error {
	if c.broken != nil {
		return c.broken
	}
	if !ftp.ValidArg(arg) || !ftp.ValidArg(verb) {
		return fmt.Errorf("ftp: %s argument contains CR, LF or NUL: %w", verb, ftp.ErrBadChars)
	}
	line := ftp.Command{Verb: verb, Arg: arg}.String()
	if c.cfg.debug != nil {
		if verb == "PASS" {
			c.cfg.debug(Sent, "---> PASS XXXX")
		} else {
			c.cfg.debug(Sent, "---> "+line)
		}
	}
	stop := c.deadline(ctx)
	defer stop()
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.broken = fmt.Errorf("%w: %w", ErrConnection, err)
		return c.broken
	}
	return nil
}

// deadline bounds the next control-connection operation by the
// configured timeout and ctx, and interrupts it if ctx is cancelled.
// The returned func must be called when the operation is over.
func (c *Conn) deadline(ctx context.Context) func() {
	d := time.Now().Add(c.cfg.timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	c.conn.SetDeadline(d)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		c.conn.SetDeadline(time.Unix(1, 0))
	})
	return func() {
		// If the interrupt already began, let it finish: a late one
		// would cut the next operation, which may run under another ctx.
		if !stop() {
			<-fired
		}
	}
}

// readReply reads one complete reply (RFC 959 4.2): "xyz text", or
// "xyz-text" up to a line beginning "xyz ". Lines are bounded by
// maxLineLen, the whole reply by maxReplyBytes.
func (c *Conn) readReply(ctx context.Context) (*ftp.Reply, error) {
	if c.broken != nil {
		return nil, c.broken
	}
	stop := c.deadline(ctx)
	defer stop()
	rep, err := c.parseReply()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", err, ctx.Err())
		}
		c.broken = fmt.Errorf("%w: %w", ErrConnection, err)
		return nil, c.broken
	}
	if rep.Code == ftp.CodeServiceUnavailable {
		// 421: the server is closing the connection; nothing after works.
		c.broken = fmt.Errorf("%w: %w", ErrConnection, rep)
	}
	return rep, nil
}

func (c *Conn) parseReply() (*ftp.Reply, error) {
	line, err := c.readLine()
	if err != nil {
		return nil, err
	}
	code, sep, text, ok := splitReplyLine(line)
	if !ok {
		return nil, fmt.Errorf("malformed reply %q", truncate(line))
	}
	rep := &ftp.Reply{Code: code, Msg: text}
	if sep != '-' {
		return rep, nil
	}
	rep.Lines = []string{text}
	total := len(line)
	for {
		line, err := c.readLine()
		if err != nil {
			return nil, err
		}
		if total += len(line); total > maxReplyBytes {
			return nil, fmt.Errorf("multi-line %d reply longer than %d bytes", code, maxReplyBytes)
		}
		if c2, sep, text, ok := splitReplyLine(line); ok && c2 == code && sep == ' ' {
			rep.Lines = append(rep.Lines, text)
			rep.Msg = text
			return rep, nil
		}
		rep.Lines = append(rep.Lines, line)
	}
}

// splitReplyLine splits "xyz text" or "xyz-text" (or a bare "xyz").
func splitReplyLine(line string) (code int, sep byte, text string, ok bool) {
	if len(line) < 3 {
		return 0, 0, "", false
	}
	for i := 0; i < 3; i++ {
		if line[i] < '0' || line[i] > '9' {
			return 0, 0, "", false
		}
	}
	code, _ = strconv.Atoi(line[:3])
	if code < 100 || code > 599 {
		return 0, 0, "", false
	}
	if len(line) == 3 {
		return code, ' ', "", true
	}
	if line[3] != ' ' && line[3] != '-' {
		return 0, 0, "", false
	}
	return code, line[3], line[4:], true
}

// readLine reads one line without its CRLF (or bare LF), refusing lines
// longer than maxLineLen without buffering them.
func (c *Conn) readLine() (string, error) {
	var b []byte
	for {
		frag, err := c.r.ReadSlice('\n')
		if len(b)+len(frag) > maxLineLen+2 {
			return "", fmt.Errorf("reply line longer than %d bytes", maxLineLen)
		}
		b = append(b, frag...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
	line := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if c.cfg.debug != nil {
		c.cfg.debug(Received, line)
	}
	return line, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func (c *Conn) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if c.cfg.debug != nil {
		c.cfg.debug(Note, msg)
	}
	c.cfg.logger.Debug(msg, slog.String("server", c.host))
}
