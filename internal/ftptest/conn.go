package ftptest

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/textproto"
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

// Cmd sends line and returns the reply's code and text (the lines of a
// multi-line reply joined by "\n").
func (c *Conn) Cmd(line string) (code int, text string) {
	c.t.Helper()
	c.Send(line)
	return c.reply()
}

// Expect reads one reply, fails the test unless its code is code, and
// returns its text.
func (c *Conn) Expect(code int) string {
	c.t.Helper()
	got, text := c.reply()
	if got != code {
		c.t.Fatalf("reply %d %q, want %d", got, text, code)
	}
	return text
}

func (c *Conn) reply() (int, string) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	code, text, err := c.tp.ReadResponse(0)
	if err != nil {
		c.t.Fatalf("reading a reply: %v", err)
	}
	return code, text
}

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
	c.Send("EPSV")
	port, err := ftp.ParseEPSVReply(c.Expect(ftp.CodeExtendedPassive))
	if err != nil {
		c.t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(c.nc.RemoteAddr().String())
	dc, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(int(port))), ioTimeout)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { dc.Close() })
	return dc
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
		code, text := c.reply()
		if got := fmt.Sprintf("%d %s", code, text); !strings.HasPrefix(got, st.Want) {
			c.t.Fatalf("step %d, %q: reply %q, want %q", i+1, st.Send, got, st.Want)
			return // for a testing.TB whose Fatalf returns
		}
	}
}
