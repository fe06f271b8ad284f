package server

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

func TestPassiveStaysInRangeAndReplaces(t *testing.T) {
	var r ftp.PortRange
	ts := startServer(t, func(c *Config) { r = freePortRange(t, 3); c.PassivePorts = r })
	c := dial(t, ts.addr)
	c.login("alice")
	// Many PASV in a row: each replaces the last, so one session never
	// holds more than one port, and every port is inside the range.
	for i := 0; i < 20; i++ {
		port, err := ftp.ParseEPSVReply(c.cmd(ftp.CodeExtendedPassive, "EPSV"))
		if err != nil || !r.Contains(port) {
			t.Fatalf("EPSV port %d outside %v (%v)", port, r, err)
		}
		if held := ts.srv.ports.held(); held != 1 {
			t.Fatalf("after %d EPSV the session holds %d ports", i+1, held)
		}
	}
}

func TestPassiveExhaustion(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.PassivePorts = freePortRange(t, 2) })
	a, b, c := dial(t, ts.addr), dial(t, ts.addr), dial(t, ts.addr)
	for _, x := range []*ctrl{a, b, c} {
		x.login("alice")
	}
	a.cmd(ftp.CodeExtendedPassive, "EPSV")
	b.cmd(ftp.CodeExtendedPassive, "EPSV")
	// Never a kernel-chosen port outside the range: 425 instead.
	c.cmd(ftp.CodeCantOpenData, "EPSV")
	c.cmd(ftp.CodeCantOpenData, "PASV")
	a.cmd(ftp.CodeClosing, "QUIT")
	// The port comes back once its session ends.
	deadline := time.Now().Add(10 * time.Second)
	for ts.srv.ports.held() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("port of the ended session not released")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.cmd(ftp.CodeExtendedPassive, "EPSV")
}

func TestPassiveRefusesStranger(t *testing.T) {
	ts := startServer(t, nil)
	ts.write(t, "f", []byte("secret data"))
	c := dial(t, ts.addr)
	c.login("alice")
	port, _ := ftp.ParseEPSVReply(c.cmd(ftp.CodeExtendedPassive, "EPSV"))
	c.send("RETR f")
	// A thief from another loopback address connects first and gets
	// nothing; the real client still gets the file.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	thief, err := d.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		t.Fatal(err)
	}
	_ = thief.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, _ := thief.Read(make([]byte, 64)); n != 0 {
		t.Fatal("stranger received data")
	}
	thief.Close()
	dc, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.expect(ftp.CodeFileStatusOK)
	if got := string(readAll(t, dc)); got != "secret data" {
		t.Fatalf("client got %q", got)
	}
	c.expect(ftp.CodeTransferComplete)
}

func TestActiveBounceProtection(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.login("alice")
	c.cmd(ftp.CodeBadArguments, "PORT 127,0,0,2,200,10") // another host
	c.cmd(ftp.CodeBadArguments, "PORT 127,0,0,1,0,21")   // privileged port
	c.cmd(ftp.CodeBadArguments, "EPRT |1|127.0.0.2|5000|")
	c.cmd(ftp.CodeBadArguments, "EPRT |1|127.0.0.1|80|")
	c.cmd(ftp.CodeOK, "PORT 127,0,0,1,200,10")

	// With protection off (FXP), another host is accepted.
	ts2 := startServer(t, func(c *Config) { c.ActiveAnyPeer = true })
	c2 := dial(t, ts2.addr)
	c2.login("alice")
	c2.cmd(ftp.CodeOK, "PORT 127,0,0,2,200,10")

	ts3 := startServer(t, func(c *Config) { c.DisableActive = true })
	c3 := dial(t, ts3.addr)
	c3.login("alice")
	c3.cmd(ftp.CodeNotImplemented, "PORT 127,0,0,1,200,10")
	c3.cmd(ftp.CodeNotImplemented, "EPRT |1|127.0.0.1|5000|")
}

func TestEPSVAll(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.login("alice")
	c.cmd(ftp.CodeNetworkProtocol, "EPSV 2") // IPv4 control connection
	c.cmd(ftp.CodeNetworkProtocol, "EPSV 7")
	c.cmd(ftp.CodeOK, "EPSV ALL")
	c.cmd(ftp.CodeBadSequence, "PASV")
	c.cmd(ftp.CodeBadSequence, "PORT 127,0,0,1,200,10")
	c.cmd(ftp.CodeBadSequence, "EPRT |1|127.0.0.1|5000|")
	c.cmd(ftp.CodeExtendedPassive, "EPSV 1")
}

func TestAdvertisedAddressAndPortMap(t *testing.T) {
	var r ftp.PortRange
	ts := startServer(t, func(c *Config) {
		r = freePortRange(t, 4)
		c.PassivePorts = r
		c.Advertise = FixedAdvertiser(netip.MustParseAddr("203.0.113.7"))
		c.PassivePortMap = ftp.PortMap{From: r, To: 60000}
	})
	c := dial(t, ts.addr)
	c.login("alice")
	ap, err := ftp.ParsePASVReply(c.cmd(ftp.CodePassive, "PASV"))
	if err != nil {
		t.Fatal(err)
	}
	if ap.Addr() != netip.MustParseAddr("203.0.113.7") || ap.Port() < 60000 || ap.Port() > 60003 {
		t.Fatalf("PASV advertised %v", ap)
	}
	port, _ := ftp.ParseEPSVReply(c.cmd(ftp.CodeExtendedPassive, "EPSV"))
	if port < 60000 || port > 60003 {
		t.Fatalf("EPSV advertised port %d", port)
	}
}

func TestIPv6(t *testing.T) {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		testenv.Missing(t, "no IPv6 loopback: "+err.Error())
	}
	l.Close()
	ts := startServer(t, nil)
	srv := ts.srv
	l6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l6) }()
	c := dial(t, l6.Addr().String())
	c.login("alice")
	ts.write(t, "f", []byte("over IPv6"))
	c.cmd(ftp.CodeBadArguments, "PASV")
	c.cmd(ftp.CodeNetworkProtocol, "EPSV 1")
	port, _ := ftp.ParseEPSVReply(c.cmd(ftp.CodeExtendedPassive, "EPSV 2"))
	dc, err := net.DialTimeout("tcp6", net.JoinHostPort("::1", strconv.Itoa(int(port))), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.cmd(ftp.CodeFileStatusOK, "RETR f")
	if got := string(readAll(t, dc)); got != "over IPv6" {
		t.Fatalf("EPSV over IPv6: %q", got)
	}
	c.expect(ftp.CodeTransferComplete)

	al, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	c.cmd(ftp.CodeOK, "EPRT "+ftp.FormatEPRT(al.Addr().(*net.TCPAddr).AddrPort()))
	c.cmd(ftp.CodeFileStatusOK, "RETR f")
	adc, err := al.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(readAll(t, adc)); got != "over IPv6" {
		t.Fatalf("EPRT over IPv6: %q", got)
	}
	c.expect(ftp.CodeTransferComplete)
}

func TestAbortDuringTransfer(t *testing.T) {
	ts := startServer(t, nil)
	ts.write(t, "big", randomBytes(64<<20))
	c := dial(t, ts.addr)
	c.login("alice")
	dc := c.open("EPSV", "RETR big")
	// Read a little so the transfer is surely running, then abort the
	// way classic clients do: Telnet IP, then DM as urgent data, then ABOR.
	if _, err := dc.Read(make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.conn.Write([]byte{0xff, 0xf4, 0xff, 0xf2}); err != nil {
		t.Fatal(err)
	}
	c.send("ABOR")
	c.expect(ftp.CodeTransferAborted)
	c.expect(ftp.CodeTransferComplete)
	dc.Close()
	// The session is still usable.
	c.cmd(ftp.CodeOK, "NOOP")
	ts.write(t, "small", []byte("after abort"))
	if got := string(readAll(t, c.open("EPSV", "RETR small"))); got != "after abort" {
		t.Fatalf("after ABOR: %q", got)
	}
	c.expect(ftp.CodeTransferComplete)
	c.cmd(ftp.CodeTransferComplete, "ABOR") // nothing to abort
}

func TestClientVanishesMidTransfer(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.AtomicUploads = true })
	ts.write(t, "big", randomBytes(32<<20))
	c := dial(t, ts.addr)
	c.login("alice")
	dc := c.open("EPSV", "RETR big")
	_, _ = dc.Read(make([]byte, 1024))
	dc.Close()
	c.conn.Close()

	c2 := dial(t, ts.addr)
	c2.login("alice")
	up := c2.open("EPSV", "STOR partial")
	_, _ = up.Write(randomBytes(1 << 20))
	// A vanished client resets the connection. (A clean close would be
	// the end of file in stream mode, RFC 959 3.4.1, and the upload complete.)
	_ = up.(*net.TCPConn).SetLinger(0)
	up.Close()
	c2.conn.Close()
	// The server stays healthy and, in atomic mode, no partial file or
	// temporary is left behind once the sessions are gone.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ts.srv.mu.Lock()
		n := len(ts.srv.sessions)
		ts.srv.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sessions did not end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	entries, _ := os.ReadDir(ts.root)
	for _, e := range entries {
		if e.Name() != "big" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	c3 := dial(t, ts.addr)
	c3.login("alice")
	c3.cmd(ftp.CodeOK, "NOOP")
}

func TestAtomicUpload(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.AtomicUploads = true })
	ts.write(t, "f", []byte("old"))
	c := dial(t, ts.addr)
	c.login("alice")
	dc := c.open("EPSV", "STOR f")
	_, _ = dc.Write([]byte("new content, "))
	// Mid-upload, readers still see the old file.
	if got := string(ts.read(t, "f")); got != "old" {
		t.Fatalf("partial upload visible: %q", got)
	}
	writeAll(t, dc, []byte("done"))
	c.expect(ftp.CodeTransferComplete)
	if got := string(ts.read(t, "f")); got != "new content, done" {
		t.Fatalf("after upload %q", got)
	}
	if m, _ := filepath.Glob(filepath.Join(ts.root, atomicPrefix+"*")); len(m) != 0 {
		t.Fatalf("temporaries left: %v", m)
	}
	c.cmd(ftp.CodeBadFileName, "STOR "+atomicPrefix+"x")
}

func TestIdleTimeoutNotDuringTransfer(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	ts.write(t, "f", randomBytes(1<<20))
	c := dial(t, ts.addr)
	c.login("alice")
	dc := c.open("EPSV", "RETR f")
	// Hold the transfer open, reading slowly, for several idle periods.
	buf := make([]byte, 64<<10)
	var got int
	for i := 0; i < 8; i++ {
		time.Sleep(100 * time.Millisecond)
		n, err := dc.Read(buf)
		got += n
		if err != nil {
			t.Fatalf("transfer cut after %d bytes: %v", got, err)
		}
	}
	got += len(readAll(t, dc))
	if got != 1<<20 {
		t.Fatalf("got %d bytes", got)
	}
	c.expect(ftp.CodeTransferComplete)
	// Idle afterwards: the server closes the control connection with 421.
	c.expect(ftp.CodeServiceUnavailable)
}

func TestSessionLimits(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxSessionsPerIP = 2 })
	dial(t, ts.addr)
	dial(t, ts.addr)
	conn, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 128)
	n, _ := conn.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "421 ") {
		t.Fatalf("third connection got %q", buf[:n])
	}
}

func TestShutdownLetsTransfersFinish(t *testing.T) {
	ts := startServer(t, nil)
	data := randomBytes(4 << 20)
	ts.write(t, "f", data)
	idle := dial(t, ts.addr)
	idle.login("alice")
	c := dial(t, ts.addr)
	c.login("alice")
	dc := c.open("EPSV", "RETR f")
	first := make([]byte, 1024)
	if _, err := dc.Read(first); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- ts.srv.Shutdown(ctx)
	}()
	idle.expect(ftp.CodeServiceUnavailable) // idle sessions are told and closed
	rest := readAll(t, dc)
	if got := append(first, rest...); sum(got) != sum(data) {
		t.Fatalf("transfer during shutdown got %d bytes", len(got))
	}
	c.expect(ftp.CodeTransferComplete)
	c.expect(ftp.CodeServiceUnavailable)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Fatal("listener still accepting after Shutdown")
	}
}

// panicAuth panics inside a session.
type panicAuth struct{}

func (panicAuth) Authenticate(context.Context, LoginRequest) (*User, error) {
	panic("boom")
}

func TestPanicIsContained(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Auth = panicAuth{} })
	c := dial(t, ts.addr)
	c.send("USER x")
	c.expect(ftp.CodeNeedPassword)
	c.send("PASS y")
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := c.r.ReadResponse(0); err == nil {
		t.Fatal("expected the panicking session to close")
	}
	// Other sessions go on.
	c2 := dial(t, ts.addr)
	c2.cmd(ftp.CodeOK, "NOOP")
}

func TestNoAuthIsAnError(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without Auth succeeded")
	}
	_, err := New(Config{Auth: testAuth{}, PassivePorts: ftp.PortRange{Min: 10, Max: 5}})
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("swapped range: %v", err)
	}
}

// gateAuth holds each login until released, so a test can start Shutdown
// while a command is being handled.
type gateAuth struct {
	testAuth
	entered, release chan struct{}
}

func (a gateAuth) Authenticate(ctx context.Context, req LoginRequest) (*User, error) {
	a.entered <- struct{}{}
	<-a.release
	return a.testAuth.Authenticate(ctx, req)
}

// A command that arrived before Shutdown is answered before the session
// is told to go: Shutdown closes only sessions waiting for a command.
func TestShutdownAnswersCommandInFlight(t *testing.T) {
	gate := gateAuth{entered: make(chan struct{}), release: make(chan struct{})}
	ts := startServer(t, nil)
	gate.testAuth = testAuth{root: ts.root}
	ts.srv.cfg.Auth = gate
	c := dial(t, ts.addr)
	c.cmd(ftp.CodeNeedPassword, "USER alice")
	c.send("PASS secret")
	<-gate.entered
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- ts.srv.Shutdown(ctx)
	}()
	// Let Shutdown run several of its rounds over the busy session.
	deadline := time.Now().Add(10 * time.Second)
	for !ts.srv.inShutdown.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	close(gate.release)
	c.expect(ftp.CodeLoggedIn)
	c.expect(ftp.CodeServiceUnavailable)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
