package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/peertest"
)

// A fake server: one scripted session on 127.0.0.1:0, for the dialogues
// real servers cannot be made to produce (a private PASV address, a
// refused EPSV, HASH, odd replies). Handlers reply to the commands they
// care about; the rest get a default answer.
type session struct {
	t      *testing.T
	conn   net.Conn
	r      *bufio.Reader
	dataLn net.Listener // after PASV or EPSV
	active string       // address from PORT or EPRT
	mu     sync.Mutex
	cmds   []string // verbs received, in order
}

// reply writes reply lines. Write errors are ignored: some tests make
// the client hang up mid-reply, and what matters is the client's side.
func (s *session) reply(lines ...string) {
	for _, l := range lines {
		io.WriteString(s.conn, l+"\r\n")
	}
}

func (s *session) verbs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

// listen opens a passive data listener and returns its port.
func (s *session) listen() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Errorf("fake: %v", err)
		return 0
	}
	if s.dataLn != nil {
		s.dataLn.Close()
	}
	s.dataLn = ln
	return ln.Addr().(*net.TCPAddr).Port
}

// data opens the data connection of the pending transfer.
func (s *session) data() (net.Conn, error) {
	if s.active != "" {
		addr := s.active
		s.active = ""
		return net.DialTimeout("tcp", addr, 5*time.Second)
	}
	if s.dataLn == nil {
		return nil, errors.New("no data connection set up")
	}
	defer func() { s.dataLn.Close(); s.dataLn = nil }()
	s.dataLn.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	return s.dataLn.Accept()
}

// send runs a download: 150, the bytes, 226.
func (s *session) send(b []byte) {
	s.reply("150 Opening data connection")
	dc, err := s.data()
	if err != nil {
		s.reply("425 " + err.Error())
		return
	}
	dc.Write(b)
	dc.Close()
	s.reply("226 Transfer complete")
}

// fake starts a scripted server and returns its address. handle returns
// false to let the default answer apply.
func fake(t *testing.T, handle func(s *session, cmd ftp.Command) bool) (string, *session) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &session{t: t}
	done := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			close(ready)
			return
		}
		defer c.Close()
		s.conn, s.r = c, bufio.NewReader(c)
		close(ready)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		s.reply("220 fake ready")
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				return
			}
			cmd, err := ftp.ParseCommand(line)
			if err != nil {
				s.reply("500 " + err.Error())
				continue
			}
			s.mu.Lock()
			s.cmds = append(s.cmds, cmd.Verb)
			s.mu.Unlock()
			if handle != nil && handle(s, cmd) {
				continue
			}
			switch cmd.Verb {
			case "USER":
				s.reply("331 Password please")
			case "PASS":
				s.reply("230 Logged in")
			case "TYPE", "NOOP":
				s.reply("200 OK")
			case "EPSV":
				s.reply(fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|)", s.listen()))
			case "EPRT":
				ap, err := ftp.ParseEPRT(cmd.Arg)
				if err != nil {
					s.reply("501 bad EPRT")
					continue
				}
				s.active = ap.String()
				s.reply("200 EPRT OK")
			case "PORT":
				ap, err := ftp.ParseHostPort(cmd.Arg)
				if err != nil {
					s.reply("501 bad PORT")
					continue
				}
				s.active = ap.String()
				s.reply("200 PORT OK")
			case "QUIT":
				s.reply("221 Bye")
				return
			default:
				s.reply("502 Not implemented")
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-ready:
			if s.conn != nil {
				s.conn.Close()
			}
		default:
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("fake server goroutine did not finish")
		}
	})
	return ln.Addr().String(), s
}

func dialFake(t *testing.T, addr string, opts ...Option) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	opts = append([]Option{WithTimeout(10 * time.Second)}, opts...)
	c, err := Dial(ctx, addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(ctx, "u", "p"); err != nil {
		t.Fatal(err)
	}
	return c
}

// loopbackOnly is a data dialer that refuses, and fails the test on,
// any address but loopback: a bug must not send packets to 10.x.
func loopbackOnly(t *testing.T) Option {
	return func(c *config) {
		c.dataDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			ap, err := netip.ParseAddrPort(addr)
			if err != nil || !ap.Addr().IsLoopback() {
				t.Errorf("client tried to open a data connection to %s", addr)
				return nil, errors.New("refused by test")
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	}
}

// Transcript collects the debug hook's lines; exported for the
// external tests in peer_test.go.
type Transcript struct {
	mu sync.Mutex
	l  []string
}

func (tr *Transcript) Hook(d Direction, line string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.l = append(tr.l, line)
}

func (tr *Transcript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.l, "\n")
}

func TestPASVPrivateAddressIgnored(t *testing.T) {
	payload := []byte("through the control peer")
	addr, _ := fake(t, func(s *session, cmd ftp.Command) bool {
		switch cmd.Verb {
		case "PASV":
			p := s.listen()
			s.reply(fmt.Sprintf("227 Entering Passive Mode (10,255,255,1,%d,%d).", p>>8, p&0xff))
		case "RETR":
			s.send(payload)
		default:
			return false
		}
		return true
	})
	var tr Transcript
	c := dialFake(t, addr, WithMode(ModePASV), WithDebug(tr.Hook), loopbackOnly(t))
	var buf bytes.Buffer
	if _, err := c.Retrieve(t.Context(), "f", 0, &buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(payload) {
		t.Fatalf("got %q", buf.String())
	}
	d := c.LastData()
	if d.Command != "PASV" || !strings.HasPrefix(d.Addr, "127.0.0.1:") || !strings.HasPrefix(d.Advertised, "10.255.255.1:") {
		t.Fatalf("LastData = %+v", d)
	}
	if !strings.Contains(tr.String(), "PASV reply names 10.255.255.1") {
		t.Fatalf("the override was not reported:\n%s", tr.String())
	}
}

func TestPASVAddressTrusted(t *testing.T) {
	// With WithTrustPASVAddress the client goes where the reply says;
	// the test's dialer proves it without sending anything there.
	addr, _ := fake(t, func(s *session, cmd ftp.Command) bool {
		if cmd.Verb != "PASV" {
			return false
		}
		s.reply("227 Entering Passive Mode (10,255,255,1,4,1)")
		return true
	})
	var tried string
	c := dialFake(t, addr, WithMode(ModePASV), WithTrustPASVAddress(true), func(c *config) {
		c.dataDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			tried = addr
			return nil, errors.New("refused by test")
		}
	})
	_, err := c.Retrieve(t.Context(), "f", 0, io.Discard)
	if !errors.Is(err, ErrTransfer) || tried != "10.255.255.1:1025" {
		t.Fatalf("err = %v, dialed %q", err, tried)
	}
	// No command was sent for the failed transfer: the session goes on.
	if err := c.Noop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestEPSVFallsBackToPASV(t *testing.T) {
	addr, s := fake(t, func(s *session, cmd ftp.Command) bool {
		switch cmd.Verb {
		case "EPSV":
			s.reply("500 EPSV not understood")
		case "PASV":
			p := s.listen()
			s.reply(fmt.Sprintf("227 Entering Passive Mode (127,0,0,1,%d,%d)", p>>8, p&0xff))
		case "RETR":
			s.send([]byte("abc"))
		default:
			return false
		}
		return true
	})
	c := dialFake(t, addr, loopbackOnly(t))
	for i := 0; i < 2; i++ {
		var buf bytes.Buffer
		if _, err := c.Retrieve(t.Context(), "f", 0, &buf); err != nil || buf.String() != "abc" {
			t.Fatalf("Retrieve %d: %q, %v", i, buf.String(), err)
		}
		d := c.LastData()
		if d.Command != "PASV" || (i == 0) != strings.Contains(d.Fallback, "EPSV refused") {
			t.Fatalf("transfer %d: LastData = %+v", i, d)
		}
	}
	// EPSV is tried once, then PASV is used directly.
	if got := strings.Join(s.verbs(), " "); got != "FEAT USER PASS TYPE EPSV PASV RETR PASV RETR" {
		t.Fatalf("commands: %s", got)
	}
}

func TestEPRTFallsBackToPORT(t *testing.T) {
	addr, s := fake(t, func(s *session, cmd ftp.Command) bool {
		switch cmd.Verb {
		case "EPRT":
			s.reply("502 EPRT not implemented")
		case "RETR":
			s.send([]byte("active"))
		default:
			return false
		}
		return true
	})
	var tr Transcript
	c := dialFake(t, addr, WithMode(ModeActive), WithDebug(tr.Hook))
	var buf bytes.Buffer
	if _, err := c.Retrieve(t.Context(), "f", 0, &buf); err != nil || buf.String() != "active" {
		t.Fatalf("Retrieve: %q, %v", buf.String(), err)
	}
	if d := c.LastData(); d.Command != "PORT" || !strings.Contains(d.Fallback, "EPRT refused") {
		t.Fatalf("LastData = %+v", d)
	}
	if !strings.Contains(tr.String(), "---> PORT 127,0,0,1,") {
		t.Fatalf("no PORT line in the transcript:\n%s", tr.String())
	}
	if got := strings.Join(s.verbs(), " "); got != "FEAT USER PASS TYPE EPRT PORT RETR" {
		t.Fatalf("commands: %s", got)
	}
}

func TestAutoFallsBackToActive(t *testing.T) {
	// A port nobody listens on stands for a firewall dropping passive.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	addr, s := fake(t, func(s *session, cmd ftp.Command) bool {
		switch cmd.Verb {
		case "EPSV":
			s.reply(fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|)", deadPort))
		case "RETR":
			s.send([]byte("auto"))
		default:
			return false
		}
		return true
	})
	c := dialFake(t, addr, WithMode(ModeAuto), loopbackOnly(t))
	for i := 0; i < 2; i++ {
		var buf bytes.Buffer
		if _, err := c.Retrieve(t.Context(), "f", 0, &buf); err != nil || buf.String() != "auto" {
			t.Fatalf("Retrieve %d: %q, %v", i, buf.String(), err)
		}
		d := c.LastData()
		if d.Command != "EPRT" || !strings.Contains(d.Fallback, "passive data connection failed") {
			t.Fatalf("transfer %d: LastData = %+v", i, d)
		}
	}
	// Passive is not retried once it failed.
	if got := strings.Join(s.verbs(), " "); got != "FEAT USER PASS TYPE EPSV EPRT RETR EPRT RETR" {
		t.Fatalf("commands: %s", got)
	}
}

func TestHash(t *testing.T) {
	addr, s := fake(t, func(s *session, cmd ftp.Command) bool {
		switch {
		case cmd.Verb == "FEAT":
			s.reply("211-Features:", " HASH SHA-1*;SHA-256;MD5", " MLST size*;", "211 End")
		case cmd.Verb == "OPTS" && cmd.Arg == "HASH SHA-256":
			s.reply("200 SHA-256")
		case cmd.Verb == "HASH":
			s.reply("213 SHA-256 0-3 BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD " + cmd.Arg)
		default:
			return false
		}
		return true
	})
	c := dialFake(t, addr)
	if got := c.Features()["HASH"]; got != "SHA-1*;SHA-256;MD5" {
		t.Fatalf("FEAT HASH = %q", got)
	}
	for i := 0; i < 2; i++ {
		h, err := c.Hash(t.Context(), "a file", "SHA-256")
		if err != nil || h != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
			t.Fatalf("Hash = %q, %v", h, err)
		}
	}
	// OPTS HASH once: the second call knows SHA-256 is selected.
	if got := strings.Join(s.verbs(), " "); got != "FEAT USER PASS TYPE OPTS HASH HASH" {
		t.Fatalf("commands: %s", got)
	}
}

func TestReplies(t *testing.T) {
	addr, _ := fake(t, func(s *session, cmd ftp.Command) bool {
		switch cmd.Verb {
		case "STAT":
			// RFC 959 4.2: only "211 " at the start of a line ends it.
			s.reply("211-status of the server:", "123 another code", " 211 indented", "211-nor this", "211 End of status")
		case "DELE":
			s.reply("450 busy, try later")
		case "RMD":
			s.reply("550 no such directory")
		case "PWD":
			s.reply(`257 "/a ""quoted"" dir" is current`)
		case "SIZE":
			s.reply("213-", strings.Repeat("x", maxLineLen+10), "213 1")
		default:
			return false
		}
		return true
	})
	c := dialFake(t, addr)
	ctx := t.Context()
	st, err := c.Stat(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"status of the server:", "123 another code", " 211 indented", "211-nor this", "End of status"}; strings.Join(st, "|") != strings.Join(want, "|") {
		t.Fatalf("Stat = %q", st)
	}
	var rep *ftp.Reply
	err = c.Delete(ctx, "x")
	if !errors.As(err, &rep) || !rep.Transient() || rep.Code != 450 {
		t.Fatalf("Delete = %v, want transient 450", err)
	}
	err = c.Rmdir(ctx, "x")
	if !errors.As(err, &rep) || rep.Transient() || rep.Code != 550 {
		t.Fatalf("Rmdir = %v, want permanent 550", err)
	}
	if wd, err := c.Pwd(ctx); err != nil || wd != `/a "quoted" dir` {
		t.Fatalf("Pwd = %q, %v", wd, err)
	}
	// A reply line over the bound breaks the connection instead of
	// growing memory; later calls fail fast.
	if _, err := c.Size(ctx, "x"); !errors.Is(err, ErrConnection) {
		t.Fatalf("Size with an overlong reply line: %v", err)
	}
	if err := c.Noop(ctx); !errors.Is(err, ErrConnection) {
		t.Fatalf("Noop after a broken reply: %v", err)
	}
}

func TestAbort(t *testing.T) {
	started := make(chan struct{})
	addr, s := fake(t, func(s *session, cmd ftp.Command) bool {
		switch cmd.Verb {
		case "RETR":
			s.reply("150 Opening data connection")
			dc, err := s.data()
			if err != nil {
				s.reply("425 " + err.Error())
				return true
			}
			dc.Write(make([]byte, 1024))
			close(started)
			// Keep sending until the client closes the data connection.
			for {
				dc.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := dc.Write(make([]byte, 32<<10)); err != nil {
					break
				}
			}
			dc.Close()
			s.reply("426 Connection closed; transfer aborted")
		case "ABOR":
			s.reply("226 Abort successful")
		default:
			return false
		}
		return true
	})
	c := dialFake(t, addr)
	go func() {
		<-started
		c.Abort()
	}()
	_, err := c.Retrieve(t.Context(), "endless", 0, io.Discard)
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("Retrieve = %v, want ErrAborted", err)
	}
	// Both replies were consumed: the session is in step.
	if err := c.Noop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.verbs(), " "); got != "FEAT USER PASS TYPE EPSV RETR ABOR NOOP" {
		t.Fatalf("commands: %s", got)
	}
}

func TestRefusesCRLF(t *testing.T) {
	addr, s := fake(t, nil)
	c := dialFake(t, addr)
	ctx := t.Context()
	for _, err := range []error{
		c.Delete(ctx, "a\r\nDELE b"),
		c.Rename(ctx, "a\nb", "c"),
		func() error { _, err := c.Retrieve(ctx, "a\x00b", 0, io.Discard); return err }(),
		func() error { _, err := c.Quote(ctx, "NOOP\r\nQUIT"); return err }(),
	} {
		if !errors.Is(err, ftp.ErrBadChars) {
			t.Errorf("got %v, want ErrBadChars", err)
		}
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.verbs(), " "); got != "FEAT USER PASS TYPE NOOP" {
		t.Fatalf("commands reached the server: %s", got)
	}
}

func TestSplitReplyLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code int
		sep  byte
		text string
		ok   bool
	}{
		{"220 ready", 220, ' ', "ready", true},
		{"211-Features:", 211, '-', "Features:", true},
		{"200", 200, ' ', "", true},
		{"2000 x", 0, 0, "", false},
		{"abc x", 0, 0, "", false},
		{"099 x", 0, 0, "", false},
		{"20", 0, 0, "", false},
	} {
		code, sep, text, ok := splitReplyLine(tc.in)
		if code != tc.code || sep != tc.sep || text != tc.text || ok != tc.ok {
			t.Errorf("splitReplyLine(%q) = %d %q %q %v", tc.in, code, sep, text, ok)
		}
	}
}

func TestActiveAddressAndPorts(t *testing.T) {
	lo, hi := peertest.FreePortRange(t, 4)
	var announced string
	addr, fs := fake(t, func(s *session, cmd ftp.Command) bool {
		switch cmd.Verb {
		case "EPRT":
			// Recorded, never connected to: 203.0.113.7 is not ours.
			s.mu.Lock()
			announced = cmd.Arg
			s.mu.Unlock()
			s.reply("200 EPRT OK")
		case "RETR":
			s.reply("425 Cannot open data connection")
		default:
			return false
		}
		return true
	})
	c := dialFake(t, addr, WithMode(ModeEPRT),
		WithActiveAddress(netip.MustParseAddr("203.0.113.7")),
		WithActivePorts(uint16(lo), uint16(hi)))
	_, err := c.Retrieve(t.Context(), "f", 0, io.Discard)
	var rep *ftp.Reply
	if !errors.Is(err, ErrTransfer) || !errors.As(err, &rep) || rep.Code != 425 {
		t.Fatalf("Retrieve = %v, want ErrTransfer with 425", err)
	}
	fs.mu.Lock()
	ap, perr := ftp.ParseEPRT(announced)
	fs.mu.Unlock()
	if perr != nil || ap.Addr() != netip.MustParseAddr("203.0.113.7") || int(ap.Port()) < lo || int(ap.Port()) > hi {
		t.Fatalf("announced %q, want 203.0.113.7 and a port in %d-%d", announced, lo, hi)
	}
	if err := c.Noop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	const good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" // SHA-256("abc")
	addr, _ := fake(t, func(s *session, cmd ftp.Command) bool {
		switch {
		case cmd.Verb == "FEAT":
			s.reply("211-Features:", " HASH SHA-256*", " SIZE", "211 End")
		case cmd.Verb == "SIZE" && cmd.Arg == "missing":
			s.reply("550 No such file")
		case cmd.Verb == "SIZE":
			s.reply("213 3")
		case cmd.Verb == "HASH" && cmd.Arg == "abc":
			s.reply("213 SHA-256 0-2 " + good + " abc")
		case cmd.Verb == "HASH":
			s.reply("213 SHA-256 0-2 " + strings.Repeat("0", 64) + " " + cmd.Arg)
		default:
			return false
		}
		return true
	})
	c := dialFake(t, addr)
	ctx := t.Context()
	sum := sha256.Sum256([]byte("abc"))
	if checked, err := c.Verify(ctx, "abc", 3, sum[:]); err != nil || strings.Join(checked, ",") != "size,SHA-256" {
		t.Fatalf("Verify of a good file = %q, %v", checked, err)
	}
	for _, tc := range []struct {
		path string
		size int64
	}{{"abc", 4}, {"other", 3}, {"missing", 3}} {
		if _, err := c.Verify(ctx, tc.path, tc.size, sum[:]); !errors.Is(err, ErrVerification) {
			t.Errorf("Verify(%s, %d) = %v, want ErrVerification", tc.path, tc.size, err)
		}
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
}

// failingReader returns n bytes, then an error.
type failingReader struct{ n int }

var errDisk = errors.New("simulated read error")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errDisk
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

func TestUploadReadErrorAborts(t *testing.T) {
	addr, s := fake(t, func(s *session, cmd ftp.Command) bool {
		switch cmd.Verb {
		case "STOR":
			s.reply("150 Ok to send data")
			dc, err := s.data()
			if err != nil {
				s.reply("425 " + err.Error())
				return true
			}
			io.Copy(io.Discard, dc)
			dc.Close()
			s.reply("426 Transfer aborted")
		case "ABOR":
			s.reply("226 ABOR successful")
		default:
			return false
		}
		return true
	})
	c := dialFake(t, addr)
	_, err := c.Store(t.Context(), "f", &failingReader{n: 100 << 10}, 0)
	if !errors.Is(err, ErrTransfer) || !errors.Is(err, errDisk) {
		t.Fatalf("Store = %v, want ErrTransfer wrapping the read error", err)
	}
	if err := c.Noop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.verbs(), " "); got != "FEAT USER PASS TYPE EPSV STOR ABOR NOOP" {
		t.Fatalf("commands: %s", got)
	}
}

func TestContextInterruptsReply(t *testing.T) {
	got := make(chan struct{})
	addr, _ := fake(t, func(s *session, cmd ftp.Command) bool {
		if cmd.Verb != "NOOP" {
			return false
		}
		close(got) // and never reply
		return true
	})
	c := dialFake(t, addr)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-got
		cancel()
	}()
	err := c.Noop(ctx)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrConnection) {
		t.Fatalf("Noop = %v, want ErrConnection wrapping context.Canceled", err)
	}
	// The reply may still arrive later; the session refuses to guess.
	if err := c.Noop(t.Context()); !errors.Is(err, ErrConnection) {
		t.Fatalf("Noop after an interrupted reply = %v", err)
	}
}

func FuzzParseReply(f *testing.F) {
	for _, seed := range []string{
		"220 ready\r\n",
		"211-Features:\r\n MLST size*;\r\n211 End\r\n",
		"211-a\r\n123 other\r\n211-b\r\n211 end\r\n",
		"200\r\n",
		"2000 x\r\n",
		"150-FILE: x\n150 ok\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &Conn{r: bufio.NewReaderSize(bytes.NewReader(b), 4096)}
		rep, err := c.parseReply()
		if err != nil {
			return
		}
		if rep.Code < 100 || rep.Code > 599 {
			t.Fatalf("code %d accepted", rep.Code)
		}
		if len(rep.Msg) > maxLineLen {
			t.Fatalf("line of %d bytes accepted", len(rep.Msg))
		}
	})
}

func TestListFallsBackFromMLSD(t *testing.T) {
	addr, s := fake(t, func(s *session, cmd ftp.Command) bool {
		switch cmd.Verb {
		case "FEAT":
			s.reply("211-Features:", " MLST type*;size*;modify*;", "211 End")
		case "MLSD":
			s.reply("500 Unknown command")
		case "LIST":
			s.send([]byte("total 1\r\n-rw-r--r-- 1 ftp ftp 42 Jan 02  2020 a.txt\r\ndrwxr-xr-x 2 ftp ftp 4096 Jan 02  2020 d\r\n"))
		default:
			return false
		}
		return true
	})
	c := dialFake(t, addr)
	entries, err := c.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Name != "a.txt" || entries[0].Size != 42 || entries[1].Type != ftp.EntryDir {
		t.Fatalf("List = %+v", entries)
	}
	if got := strings.Join(s.verbs(), " "); got != "FEAT USER PASS TYPE EPSV MLSD EPSV LIST" {
		t.Fatalf("commands: %s", got)
	}
}
