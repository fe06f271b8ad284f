package server_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
	"github.com/ferry-ftp/ferry/storage"
)

func TestPassiveStaysInRangeAndReplaces(t *testing.T) {
	var r ftp.PortRange
	ts := ftptest.NewServer(t, func(c *server.Config) { r = ftptest.FreePorts(t, 3); c.PassivePorts = r })
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	// Many PASV in a row: each replaces the last, so one session never
	// holds more than one port, and every port is inside the range.
	for i := 0; i < 20; i++ {
		port, err := ftp.ParseEPSVReply(c.Want(ftp.CodeExtendedPassive, "EPSV"))
		if err != nil || !r.Contains(port) {
			t.Fatalf("EPSV port %d outside %v (%v)", port, r, err)
		}
		if held := server.PortsHeld(ts.Server); held != 1 {
			t.Fatalf("after %d EPSV the session holds %d ports", i+1, held)
		}
	}
}

func TestPassiveExhaustion(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.PassivePorts = ftptest.FreePorts(t, 2) })
	a, b, c := ts.Dial(t), ts.Dial(t), ts.Dial(t)
	for _, x := range []*ftptest.Conn{a, b, c} {
		x.Login(ftptest.User, ftptest.Password)
	}
	a.Want(ftp.CodeExtendedPassive, "EPSV")
	b.Want(ftp.CodeExtendedPassive, "EPSV")
	// Never a kernel-chosen port outside the range: 425 instead.
	c.Want(ftp.CodeCantOpenData, "EPSV")
	c.Want(ftp.CodeCantOpenData, "PASV")
	a.Want(ftp.CodeClosing, "QUIT")
	// The port comes back once its session ends.
	testenv.WaitFor(t, 10*time.Second, "the port of the ended session to be released", func() bool {
		return server.PortsHeld(ts.Server) == 1
	})
	c.Want(ftp.CodeExtendedPassive, "EPSV")
}

func TestPassiveRefusesStranger(t *testing.T) {
	ts := ftptest.NewServer(t)
	ts.WriteFile(t, "f", []byte("secret data"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	port, _ := ftp.ParseEPSVReply(c.Want(ftp.CodeExtendedPassive, "EPSV"))
	c.Send("RETR f")
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
	c.Expect(ftp.CodeFileStatusOK)
	if got := string(ftptest.ReadAll(t, dc)); got != "secret data" {
		t.Fatalf("client got %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
}

func TestActiveBounceProtection(t *testing.T) {
	ts := ftptest.NewServer(t)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	c.Want(ftp.CodeBadArguments, "PORT 127,0,0,2,200,10") // another host
	c.Want(ftp.CodeBadArguments, "PORT 127,0,0,1,0,21")   // privileged port
	c.Want(ftp.CodeBadArguments, "EPRT |1|127.0.0.2|5000|")
	c.Want(ftp.CodeBadArguments, "EPRT |1|127.0.0.1|80|")
	c.Want(ftp.CodeOK, "PORT 127,0,0,1,200,10")

	// With protection off (FXP), another host is accepted.
	ts2 := ftptest.NewServer(t, func(c *server.Config) { c.ActiveAnyPeer = true })
	c2 := ts2.Dial(t)
	c2.Login(ftptest.User, ftptest.Password)
	c2.Want(ftp.CodeOK, "PORT 127,0,0,2,200,10")

	ts3 := ftptest.NewServer(t, func(c *server.Config) { c.DisableActive = true })
	c3 := ts3.Dial(t)
	c3.Login(ftptest.User, ftptest.Password)
	c3.Want(ftp.CodeNotImplemented, "PORT 127,0,0,1,200,10")
	c3.Want(ftp.CodeNotImplemented, "EPRT |1|127.0.0.1|5000|")
}

func TestEPSVAll(t *testing.T) {
	ts := ftptest.NewServer(t)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	c.Want(ftp.CodeNetworkProtocol, "EPSV 2") // IPv4 control connection
	c.Want(ftp.CodeNetworkProtocol, "EPSV 7")
	c.Want(ftp.CodeOK, "EPSV ALL")
	c.Want(ftp.CodeBadSequence, "PASV")
	c.Want(ftp.CodeBadSequence, "PORT 127,0,0,1,200,10")
	c.Want(ftp.CodeBadSequence, "EPRT |1|127.0.0.1|5000|")
	c.Want(ftp.CodeExtendedPassive, "EPSV 1")
}

func TestAdvertisedAddressAndPortMap(t *testing.T) {
	var r ftp.PortRange
	ts := ftptest.NewServer(t, func(c *server.Config) {
		r = ftptest.FreePorts(t, 4)
		c.PassivePorts = r
		c.Advertise = server.FixedAdvertiser(netip.MustParseAddr("203.0.113.7"))
		c.PassivePortMap = ftp.PortMap{From: r, To: 60000}
	})
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	ap, err := ftp.ParsePASVReply(c.Want(ftp.CodePassive, "PASV"))
	if err != nil {
		t.Fatal(err)
	}
	if ap.Addr() != netip.MustParseAddr("203.0.113.7") || ap.Port() < 60000 || ap.Port() > 60003 {
		t.Fatalf("PASV advertised %v", ap)
	}
	port, _ := ftp.ParseEPSVReply(c.Want(ftp.CodeExtendedPassive, "EPSV"))
	if port < 60000 || port > 60003 {
		t.Fatalf("EPSV advertised port %d", port)
	}
}

func TestIPv6(t *testing.T) {
	ts := ftptest.NewServer(t)
	c := ftptest.Dial(t, ts.ServeIPv6(t))
	c.Login(ftptest.User, ftptest.Password)
	ts.WriteFile(t, "f", []byte("over IPv6"))
	c.Want(ftp.CodeBadArguments, "PASV")
	c.Want(ftp.CodeNetworkProtocol, "EPSV 1")
	port, _ := ftp.ParseEPSVReply(c.Want(ftp.CodeExtendedPassive, "EPSV 2"))
	dc, err := net.DialTimeout("tcp6", net.JoinHostPort("::1", strconv.Itoa(int(port))), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Want(ftp.CodeFileStatusOK, "RETR f")
	if got := string(ftptest.ReadAll(t, dc)); got != "over IPv6" {
		t.Fatalf("EPSV over IPv6: %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)

	al, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	c.Want(ftp.CodeOK, "EPRT "+ftp.FormatEPRT(al.Addr().(*net.TCPAddr).AddrPort()))
	c.Want(ftp.CodeFileStatusOK, "RETR f")
	adc, err := al.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(ftptest.ReadAll(t, adc)); got != "over IPv6" {
		t.Fatalf("EPRT over IPv6: %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
}

func TestAbortDuringTransfer(t *testing.T) {
	ts := ftptest.NewServer(t)
	ts.WriteFile(t, "big", testenv.RandomBytes(64<<20))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	dc := c.Open("EPSV", "RETR big")
	// Read a little so the transfer is surely running, then abort the
	// way classic clients do: Telnet IP, then DM as urgent data, then ABOR.
	if _, err := dc.Read(make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NetConn().Write([]byte{0xff, 0xf4, 0xff, 0xf2}); err != nil {
		t.Fatal(err)
	}
	c.Send("ABOR")
	c.Expect(ftp.CodeTransferAborted)
	c.Expect(ftp.CodeTransferComplete)
	dc.Close()
	// The session is still usable.
	c.Want(ftp.CodeOK, "NOOP")
	ts.WriteFile(t, "small", []byte("after abort"))
	if got := string(ftptest.ReadAll(t, c.Open("EPSV", "RETR small"))); got != "after abort" {
		t.Fatalf("after ABOR: %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
	c.Want(ftp.CodeTransferComplete, "ABOR") // nothing to abort
}

func TestClientVanishesMidTransfer(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.AtomicUploads = true })
	ts.WriteFile(t, "big", testenv.RandomBytes(32<<20))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	dc := c.Open("EPSV", "RETR big")
	_, _ = dc.Read(make([]byte, 1024))
	dc.Close()
	c.NetConn().Close()

	c2 := ts.Dial(t)
	c2.Login(ftptest.User, ftptest.Password)
	up := c2.Open("EPSV", "STOR partial")
	_, _ = up.Write(testenv.RandomBytes(1 << 20))
	// A vanished client resets the connection. (A clean close would be
	// the end of file in stream mode, RFC 959 3.4.1, and the upload complete.)
	_ = up.(*net.TCPConn).SetLinger(0)
	up.Close()
	c2.NetConn().Close()
	// The server stays healthy and, in atomic mode, no partial file or
	// temporary is left behind once the sessions are gone.
	testenv.WaitFor(t, 10*time.Second, "the sessions to end", func() bool {
		return server.Sessions(ts.Server) == 0
	})
	entries, _ := os.ReadDir(ts.Root)
	for _, e := range entries {
		if e.Name() != "big" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	c3 := ts.Dial(t)
	c3.Login(ftptest.User, ftptest.Password)
	c3.Want(ftp.CodeOK, "NOOP")
}

func TestAtomicUpload(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.AtomicUploads = true })
	ts.WriteFile(t, "f", []byte("old"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	dc := c.Open("EPSV", "STOR f")
	_, _ = dc.Write([]byte("new content, "))
	// Mid-upload, readers still see the old file.
	if got := string(ts.ReadFile(t, "f")); got != "old" {
		t.Fatalf("partial upload visible: %q", got)
	}
	ftptest.WriteAll(t, dc, []byte("done"))
	c.Expect(ftp.CodeTransferComplete)
	if got := string(ts.ReadFile(t, "f")); got != "new content, done" {
		t.Fatalf("after upload %q", got)
	}
	if m, _ := filepath.Glob(filepath.Join(ts.Root, storage.UploadTempPrefix+"*")); len(m) != 0 {
		t.Fatalf("temporaries left: %v", m)
	}
	c.Want(ftp.CodeBadFileName, "STOR "+storage.UploadTempPrefix+"x")
}

func TestIdleTimeoutNotDuringTransfer(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.IdleTimeout = 300 * time.Millisecond })
	ts.WriteFile(t, "f", testenv.RandomBytes(1<<20))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	dc := c.Open("EPSV", "RETR f")
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
	got += len(ftptest.ReadAll(t, dc))
	if got != 1<<20 {
		t.Fatalf("got %d bytes", got)
	}
	c.Expect(ftp.CodeTransferComplete)
	// Idle afterwards: the server closes the control connection with 421.
	c.Expect(ftp.CodeServiceUnavailable)
}

func TestSessionLimits(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.MaxSessionsPerIP = 2 })
	ts.Dial(t)
	ts.Dial(t)
	conn, err := net.DialTimeout("tcp", ts.Addr, 5*time.Second)
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
	ts := ftptest.NewServer(t)
	data := testenv.RandomBytes(4 << 20)
	ts.WriteFile(t, "f", data)
	idle := ts.Dial(t)
	idle.Login(ftptest.User, ftptest.Password)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	dc := c.Open("EPSV", "RETR f")
	first := make([]byte, 1024)
	if _, err := dc.Read(first); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- ts.Server.Shutdown(ctx)
	}()
	idle.Expect(ftp.CodeServiceUnavailable) // idle sessions are told and closed
	rest := ftptest.ReadAll(t, dc)
	if got := append(first, rest...); sum(got) != sum(data) {
		t.Fatalf("transfer during shutdown got %d bytes", len(got))
	}
	c.Expect(ftp.CodeTransferComplete)
	c.Expect(ftp.CodeServiceUnavailable)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ts.Addr, time.Second); err == nil {
		t.Fatal("listener still accepting after Shutdown")
	}
}

// panicAuth panics inside a session.
type panicAuth struct{}

func (panicAuth) Authenticate(context.Context, server.LoginRequest) (*server.User, error) {
	panic("boom")
}

func TestPanicIsContained(t *testing.T) {
	// ftptest reports the panic the server recovered from as a failure of
	// the test; r records it instead, for the end of this test to check.
	r := &testenv.Recorder{TB: t}
	ts := ftptest.NewServer(r, func(c *server.Config) { c.Auth = panicAuth{} })
	c := ts.Dial(t)
	c.Send("USER x")
	c.Expect(ftp.CodeNeedPassword)
	c.Send("PASS y")
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := c.Reader().ReadResponse(0); err == nil {
		t.Fatal("expected the panicking session to close")
	}
	// Other sessions go on.
	c2 := ts.Dial(t)
	c2.Want(ftp.CodeOK, "NOOP")
	ts.Close()
	if len(r.Failures) != 1 || !strings.Contains(r.Failures[0], "session panic") || !strings.Contains(r.Failures[0], "boom") {
		t.Fatalf("failures %q, want one for the recovered panic", r.Failures)
	}
}

// noLogins is an Authenticator for configs that are never served.
type noLogins struct{}

func (noLogins) Authenticate(context.Context, server.LoginRequest) (*server.User, error) {
	return nil, server.ErrBadLogin
}

func TestNoAuthIsAnError(t *testing.T) {
	if _, err := server.New(server.Config{}); err == nil {
		t.Fatal("New without Auth succeeded")
	}
	_, err := server.New(server.Config{Auth: noLogins{}, PassivePorts: ftp.PortRange{Min: 10, Max: 5}})
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("swapped range: %v", err)
	}
}

// gateAuth holds each login until released, so a test can start Shutdown
// while a command is being handled.
type gateAuth struct {
	server.Authenticator
	entered, release chan struct{}
}

func (a gateAuth) Authenticate(ctx context.Context, req server.LoginRequest) (*server.User, error) {
	a.entered <- struct{}{}
	<-a.release
	return a.Authenticator.Authenticate(ctx, req)
}

// A command that arrived before Shutdown is answered before the session
// is told to go: Shutdown closes only sessions waiting for a command.
func TestShutdownAnswersCommandInFlight(t *testing.T) {
	gate := gateAuth{entered: make(chan struct{}), release: make(chan struct{})}
	ts := ftptest.NewServer(t, func(c *server.Config) { gate.Authenticator = c.Auth; c.Auth = gate })
	c := ts.Dial(t)
	c.Want(ftp.CodeNeedPassword, "USER "+ftptest.User)
	c.Send("PASS " + ftptest.Password)
	<-gate.entered
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- ts.Server.Shutdown(ctx)
	}()
	// Let Shutdown run several of its rounds over the busy session.
	testenv.WaitForState(t, 10*time.Second, "three rounds of Shutdown", func() string {
		if n := server.ShutdownRounds(ts.Server); n < 3 {
			return fmt.Sprintf("%d rounds made", n)
		}
		return ""
	})
	close(gate.release)
	c.Expect(ftp.CodeLoggedIn)
	c.Expect(ftp.CodeServiceUnavailable)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
