package ftptest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// ioTimeout bounds every read and write of a Conn, so that a server that
// stops answering fails the test instead of hanging it.
const ioTimeout = 20 * time.Second

// Conn is a control connection for transcript tests. Its methods fail
// the test that dialed it when the connection breaks or a reply is not
// the one wanted; use it from that test's goroutine only.
type Conn struct {
	t  testing.TB
	nc net.Conn // TLS after AuthTLS
	tp *textproto.Conn
}

// Dial connects to the FTP server at addr and reads its 220 greeting.
// The connection is closed when the test ends.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return newConn(t, nc)
}

// DialFrom is Dial from the local address from, such as "127.0.0.2":
// any address of 127.0.0.0/8 reaches a server on 127.0.0.1, and looks to
// it like another client host (for bans, per-address limits, and data
// connections that must come from the control connection's peer).
func DialFrom(t testing.TB, addr, from string) *Conn {
	t.Helper()
	ip := net.ParseIP(from)
	if ip == nil {
		t.Fatalf("ftptest: DialFrom: %q is not an IP address", from)
	}
	d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: ip}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return newConn(t, nc)
}

// DialTLS is Dial for an implicit-TLS server: the connection starts with
// a handshake under cfg.
func DialTLS(t testing.TB, addr string, cfg *tls.Config) *Conn {
	t.Helper()
	d := &net.Dialer{Timeout: ioTimeout}
	nc, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return newConn(t, nc)
}

func newConn(t testing.TB, nc net.Conn) *Conn {
	t.Helper()
	c := &Conn{t: t, nc: nc, tp: textproto.NewConn(nc)}
	t.Cleanup(func() { c.Close() })
	c.Expect(ftp.CodeServiceReady)
	return c
}

// Send writes line and CRLF, as it is: the server may be sent anything.
func (c *Conn) Send(line string) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if err := c.tp.PrintfLine("%s", line); err != nil {
		c.t.Fatalf("sending %q: %v", line, err)
	}
}

// Want sends line, fails the test unless the reply's code is code, and
// returns the reply's text.
func (c *Conn) Want(code int, line string) string {
	c.t.Helper()
	c.Send(line)
	return c.Expect(code)
}

// Cmd sends line and returns the reply's code and text (the lines of a
// multi-line reply joined by "\n").
func (c *Conn) Cmd(line string) (code int, text string) {
	c.t.Helper()
	c.Send(line)
	return c.Next()
}

// Expect reads one reply, fails the test unless its code is code, and
// returns its text.
func (c *Conn) Expect(code int) string {
	c.t.Helper()
	got, text := c.Next()
	if got != code {
		c.t.Fatalf("reply %d %q, want %d", got, text, code)
	}
	return text
}

// Next reads one reply, whatever its code, and returns its code and text.
func (c *Conn) Next() (code int, text string) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	code, text, err := c.tp.ReadResponse(0)
	if err != nil {
		c.t.Fatalf("reading a reply: %v", err)
	}
	return code, text
}

// ExpectSeq reads one reply for each of codes and fails the test unless
// they came with these codes, in this order. It returns their texts.
func (c *Conn) ExpectSeq(codes ...int) []string {
	c.t.Helper()
	got := make([]int, len(codes))
	texts := make([]string, len(codes))
	for i := range codes {
		got[i], texts[i] = c.Next()
	}
	for i := range codes {
		if got[i] != codes[i] {
			c.t.Fatalf("replies %v %q, want %v", got, texts, codes)
		}
	}
	return texts
}

// ExpectClosed reads a 421 reply and then fails the test unless the
// server closed the connection after it.
func (c *Conn) ExpectClosed() {
	c.t.Helper()
	c.Expect(ftp.CodeServiceUnavailable)
	_ = c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	if b, err := c.tp.R.ReadByte(); err == nil || isTimeout(err) {
		c.t.Fatalf("after 421: read %q, %v; want the connection closed", b, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// NetConn returns the connection beneath c (the TLS connection after
// AuthTLS), for tests that write what no command line would, close it,
// or read what follows the protocol; deadlines set on it stay until the
// next Send or read of a reply.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Reader returns the reader c reads replies with: reading through it,
// rather than from NetConn, keeps what c has buffered.
func (c *Conn) Reader() *textproto.Reader { return &c.tp.Reader }

// Login sends USER and PASS and fails the test unless they log in.
func (c *Conn) Login(user, password string) {
	c.t.Helper()
	c.Send("USER " + user)
	c.Expect(ftp.CodeNeedPassword)
	c.Send("PASS " + password)
	c.Expect(ftp.CodeLoggedIn)
}

// AuthTLS sends AUTH TLS and, once the server agrees, continues over TLS
// under cfg.
func (c *Conn) AuthTLS(cfg *tls.Config) {
	c.t.Helper()
	c.Send("AUTH TLS")
	c.Expect(ftp.CodeAuthOK)
	tc := tls.Client(c.nc, cfg)
	_ = tc.SetDeadline(time.Now().Add(ioTimeout))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.nc, c.tp = tc, textproto.NewConn(tc)
}

// EPSV sends EPSV and returns a connection to the port the reply names,
// on the control connection's host; it is closed when the test ends.
func (c *Conn) EPSV() net.Conn {
	c.t.Helper()
	port, err := ftp.ParseEPSVReply(c.Want(ftp.CodeExtendedPassive, "EPSV"))
	if err != nil {
		c.t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(c.nc.RemoteAddr().String())
	return c.dialData(net.JoinHostPort(host, strconv.Itoa(int(port))))
}

// PASV is EPSV with PASV: it connects to the address the reply names and
// returns that address too.
func (c *Conn) PASV() (net.Conn, netip.AddrPort) {
	c.t.Helper()
	ap, err := ftp.ParsePASVReply(c.Want(ftp.CodePassive, "PASV"))
	if err != nil {
		c.t.Fatal(err)
	}
	return c.dialData(ap.String()), ap
}

func (c *Conn) dialData(addr string) net.Conn {
	c.t.Helper()
	dc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { dc.Close() })
	return dc
}

// Active listens on the control connection's local address, names the
// listener to the server with verb, "PORT" or "EPRT", and returns a
// channel that yields the server's data connection once it connects and
// is closed without one if it never does. The listener and the
// connection are closed when the test ends.
func (c *Conn) Active(verb string) <-chan net.Conn {
	c.t.Helper()
	host, _, _ := net.SplitHostPort(c.nc.LocalAddr().String())
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { l.Close() })
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	var arg string
	switch verb {
	case "PORT":
		if arg, err = ftp.FormatHostPort(ap); err != nil {
			c.t.Fatal(err)
		}
	case "EPRT":
		arg = ftp.FormatEPRT(ap)
	default:
		c.t.Fatalf("ftptest: Active(%q): want PORT or EPRT", verb)
	}
	c.Want(ftp.CodeOK, verb+" "+arg)
	ch := make(chan net.Conn, 1)
	go func() {
		if dc, err := l.Accept(); err == nil {
			ch <- dc
		}
		close(ch)
	}()
	return ch
}

// Open sets up a data connection in mode ("EPSV", "PASV", "PORT" or
// "EPRT"), sends command, a transfer or listing, expects its 150 and
// returns the data connection, which is closed when the test ends. The
// transfer's final reply is the caller's to read.
func (c *Conn) Open(mode, command string) net.Conn {
	c.t.Helper()
	switch mode {
	case "EPSV":
		dc := c.EPSV()
		c.Want(ftp.CodeFileStatusOK, command)
		return dc
	case "PASV":
		dc, _ := c.PASV()
		c.Want(ftp.CodeFileStatusOK, command)
		return dc
	default:
		ch := c.Active(mode)
		c.Want(ftp.CodeFileStatusOK, command)
		dc, ok := <-ch
		if !ok {
			c.t.Fatalf("%s: the server never connected to the %s address", command, mode)
		}
		c.t.Cleanup(func() { dc.Close() })
		return dc
	}
}

// OpenTLS is Open in EPSV mode for a protected data connection (after
// PROT P): it connects, sends command, takes the TLS handshake under cfg
// (the server sends its 150 before it) and returns the TLS connection
// after the 150. Share cfg's ClientSessionCache with the control
// connection's config for the handshake to resume its session.
func (c *Conn) OpenTLS(cfg *tls.Config, command string) *tls.Conn {
	c.t.Helper()
	raw := c.EPSV()
	c.Send(command)
	dc := tls.Client(raw, cfg)
	_ = dc.SetDeadline(time.Now().Add(ioTimeout))
	if err := dc.Handshake(); err != nil {
		c.t.Fatalf("%s: data connection TLS handshake: %v", command, err)
	}
	c.Expect(ftp.CodeFileStatusOK)
	return dc
}

// ReadAll reads the data connection dc to its end, fails the test if
// that breaks off, and closes dc.
func ReadAll(t testing.TB, dc net.Conn) []byte {
	t.Helper()
	_ = dc.SetReadDeadline(time.Now().Add(ioTimeout))
	b, err := io.ReadAll(dc)
	if err != nil {
		t.Fatalf("reading a data connection: %v", err)
	}
	dc.Close()
	return b
}

// WriteAll writes data to the data connection dc, fails the test if that
// breaks off, and closes dc: the end of the file in stream mode.
func WriteAll(t testing.TB, dc net.Conn, data []byte) {
	t.Helper()
	_ = dc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := dc.Write(data); err != nil {
		t.Fatalf("writing a data connection: %v", err)
	}
	dc.Close()
}

// Close closes the connection.
func (c *Conn) Close() error { return c.tp.Close() }

// A Step is one exchange of a transcript: Send, unless empty, is sent;
// then one reply is read, which must begin with Want when written as
// "code text": "230", `257 "/"`, or "5" for any permanent failure.
type Step struct {
	Send string
	Want string
}

// Script runs the steps in order and fails the test at the first reply
// that is not the one wanted.
func (c *Conn) Script(steps []Step) {
	c.t.Helper()
	for i, st := range steps {
		if st.Send != "" {
			c.Send(st.Send)
		}
		code, text := c.Next()
		if got := fmt.Sprintf("%d %s", code, text); !strings.HasPrefix(got, st.Want) {
			c.t.Fatalf("step %d, %q: reply %q, want %q", i+1, st.Send, got, st.Want)
			return // for a testing.TB whose Fatalf returns
		}
	}
}
