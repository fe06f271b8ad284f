package ftptest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAccounts(t *testing.T) {
	ts := NewServer(t)
	for _, tc := range []struct {
		user, password string
		pass, mkd      string // the replies to PASS and to MKD
	}{
		{User, Password, "230", "257"},
		{ReadOnlyUser, Password, "230", "550"},
		{"anonymous", "me@example.com", "230", "550"},
		{"FTP", "", "230", "550"},
		{User, "wrong", "530", "530"},
		{"mallory", Password, "530", "530"},
	} {
		t.Run(tc.user+"/"+tc.password, func(t *testing.T) {
			ts.Dial(t).Script([]Step{
				{"USER " + tc.user, "331"},
				{"PASS " + tc.password, tc.pass},
				{"MKD " + tc.user, tc.mkd},
				{"QUIT", "221"},
			})
		})
	}
	if _, err := os.Stat(filepath.Join(ts.Root, User)); err != nil {
		t.Errorf("alice's MKD did not land in Root: %v", err)
	}
}

func TestTransfer(t *testing.T) {
	ts := NewServer(t)
	c := ts.Dial(t)
	c.Login(User, Password)
	c.Script([]Step{{"TYPE I", "200"}, {"PWD", `257 "/"`}})

	dc := c.EPSV()
	c.Send("STOR up.txt")
	c.Expect(150)
	io.WriteString(dc, "hello")
	dc.Close()
	c.Expect(226)
	if b, err := os.ReadFile(filepath.Join(ts.Root, "up.txt")); err != nil || string(b) != "hello" {
		t.Fatalf("Root/up.txt = %q, %v; want hello", b, err)
	}

	dc = c.EPSV()
	if code, text := c.Cmd("RETR up.txt"); code != 150 {
		t.Fatalf("RETR: %d %s", code, text)
	}
	b, err := io.ReadAll(dc)
	if err != nil || string(b) != "hello" {
		t.Fatalf("RETR read %q, %v", b, err)
	}
	c.Expect(226)
}

// configure sees the defaults, Auth included, and may change any field.
func TestConfigure(t *testing.T) {
	var logins atomic.Int32
	ts := NewServer(t, func(c *server.Config) {
		if c.PassivePorts.Size() != 8 || c.Auth == nil || c.Logger == nil {
			t.Errorf("defaults missing: %+v", c)
		}
		c.Auth = countLogins{c.Auth, &logins}
	}, func(c *server.Config) { c.Banner = "custom banner" })
	ts.Dial(t).Login("anonymous", "x")
	ts.Dial(t).Login(User, Password)
	if n := logins.Load(); n != 2 {
		t.Errorf("the wrapping authenticator saw %d logins, want 2", n)
	}
	nc, err := net.DialTimeout("tcp", ts.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	line := make([]byte, 64)
	n, _ := nc.Read(line)
	if !strings.HasPrefix(string(line[:n]), "220 custom banner") {
		t.Errorf("greeting %q, want the configured banner", line[:n])
	}

	strict := NewServer(t, func(c *server.Config) { c.RequireTLSLogin = true })
	strict.Dial(t).Script([]Step{{"USER " + User, "534"}})
}

type countLogins struct {
	server.Authenticator
	n *atomic.Int32
}

func (c countLogins) Authenticate(ctx context.Context, req server.LoginRequest) (*server.User, error) {
	c.n.Add(1)
	return c.Authenticator.Authenticate(ctx, req)
}

func TestTLSServer(t *testing.T) {
	ts := NewTLSServer(t, func(c *server.Config) { c.RequireTLSLogin = true })
	if ts.Cert == nil || ts.ImplicitAddr == "" {
		t.Fatalf("Cert %v, ImplicitAddr %q", ts.Cert, ts.ImplicitAddr)
	}
	explicit := ts.Dial(t)
	explicit.AuthTLS(ts.Cert.ClientConfig("127.0.0.1"))
	explicit.Login(User, Password)

	implicit := DialTLS(t, ts.ImplicitAddr, ts.Cert.ClientConfig("127.0.0.1"))
	implicit.Login(User, Password)
	implicit.Script([]Step{{"PBSZ 0", "200"}, {"PROT P", "200"}})

	// A protected data connection resumes the control connection's
	// session when their configs share a session cache.
	ts.WriteFile(t, "f", []byte("protected"))
	cfg := ts.Cert.ClientConfig("127.0.0.1")
	c := ts.Dial(t)
	c.AuthTLS(cfg)
	c.Login(User, Password)
	c.Script([]Step{{"PBSZ 0", "200"}, {"PROT P", "200"}})
	dc := c.OpenTLS(cfg, "RETR f")
	if !dc.ConnectionState().DidResume {
		t.Error("the data connection did not resume the control connection's TLS session")
	}
	if got := string(ReadAll(t, dc)); got != "protected" {
		t.Fatalf("RETR over TLS: %q", got)
	}
	c.Expect(226)

	if plain := NewServer(t); plain.Cert != nil || plain.ImplicitAddr != "" {
		t.Errorf("a plain server has Cert %v, ImplicitAddr %q", plain.Cert, plain.ImplicitAddr)
	}
}

func TestClose(t *testing.T) {
	ts := NewServer(t)
	c := ts.Dial(t)
	ts.Close()
	ts.Close() // and again when the test ends
	if nc, err := net.DialTimeout("tcp", ts.Addr, 5*time.Second); err == nil {
		nc.Close()
		t.Fatal("the listener still accepts after Close")
	}
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := c.tp.ReadResponse(0); err == nil {
		t.Fatal("the session still answers after Close")
	}
}

// A reply other than the one wanted fails the test, naming both.
func TestWrongReplyFails(t *testing.T) {
	ts := NewServer(t)
	r := &testenv.Recorder{TB: t}
	c := Dial(r, ts.Addr)
	c.Script([]Step{{"NOOP", "2"}, {"NOOP", "200"}})
	if len(r.Failures) != 0 {
		t.Fatalf("a matching script failed: %q", r.Failures)
	}

	c.Script([]Step{{"NOOP", "200"}, {"SYST", "500"}, {"NOOP", "200"}})
	if len(r.Failures) != 1 || !strings.Contains(r.Failures[0], `step 2, "SYST"`) || !strings.Contains(r.Failures[0], `want "500"`) {
		t.Fatalf("Script failures %q, want one for step 2", r.Failures)
	}

	r.Failures = nil
	c.Send("NOOP")
	c.Expect(500)
	if len(r.Failures) != 1 || !strings.Contains(r.Failures[0], "reply 200") || !strings.Contains(r.Failures[0], "want 500") {
		t.Fatalf("Expect failures %q, want one", r.Failures)
	}
}

// The package documentation's example, as it is written there.
func TestDocExample(t *testing.T) {
	ts := NewServer(t, func(c *server.Config) { c.AtomicUploads = true })
	c := ts.Dial(t)
	c.Login(User, Password)
	c.Script([]Step{
		{Send: "PWD", Want: `257 "/"`},
		{Send: "MKD d", Want: "257"},
		{Send: "DELE nothing", Want: "550"},
	})
	ts.WriteFile(t, "f", []byte("data"))
	got := ReadAll(t, c.Open("EPSV", "RETR f"))
	c.Expect(226)
	if string(got) != "data" {
		t.Fatalf("RETR f: %q", got)
	}
}

// Open transfers both ways in every mode, with the bytes intact.
func TestOpenEveryMode(t *testing.T) {
	ts := NewServer(t)
	c := ts.Dial(t)
	c.Login(User, Password)
	data := testenv.RandomBytes(300 << 10)
	for _, mode := range []string{"EPSV", "PASV", "PORT", "EPRT"} {
		WriteAll(t, c.Open(mode, "STOR "+mode), data)
		c.Expect(226)
		if got := ts.ReadFile(t, mode); !bytes.Equal(got, data) {
			t.Fatalf("%s: STOR stored %d bytes, want the %d sent", mode, len(got), len(data))
		}
		if got := ReadAll(t, c.Open(mode, "RETR "+mode)); !bytes.Equal(got, data) {
			t.Fatalf("%s: RETR read %d bytes, want %d", mode, len(got), len(data))
		}
		c.Expect(226)
	}
	dc, ap := c.PASV()
	if ap.Addr() != netip.MustParseAddr("127.0.0.1") || dc.RemoteAddr().String() != ap.String() {
		t.Fatalf("PASV advertised %v, connected to %v", ap, dc.RemoteAddr())
	}
	ts.WriteFile(t, "d/sub/f", []byte("nested"))
	if got := string(ReadAll(t, c.Open("EPSV", "RETR d/sub/f"))); got != "nested" {
		t.Fatalf("WriteFile d/sub/f, RETR: %q", got)
	}
	c.Expect(226)
}

func TestReplies(t *testing.T) {
	ts := NewServer(t, func(c *server.Config) { c.MaxLoginAttempts = 1 })
	c := ts.Dial(t)
	if _, err := io.WriteString(c.NetConn(), "NOOP\r\nSYST\r\nNOOP\r\n"); err != nil {
		t.Fatal(err)
	}
	if texts := c.ExpectSeq(200, 215); !strings.HasPrefix(texts[1], "UNIX") {
		t.Errorf("ExpectSeq texts %q", texts)
	}
	if code, _ := c.Next(); code != 200 {
		t.Errorf("Next: %d, want the third reply, 200", code)
	}
	c.Send("NOOP")
	if line, err := c.Reader().ReadLine(); err != nil || !strings.HasPrefix(line, "200 ") {
		t.Errorf("Reader: %q, %v", line, err)
	}

	r := &testenv.Recorder{TB: t}
	wrong := Dial(r, ts.Addr)
	wrong.Send("NOOP")
	wrong.Send("SYST")
	wrong.ExpectSeq(200, 200)
	if len(r.Failures) != 1 || !strings.Contains(r.Failures[0], "replies [200 215]") {
		t.Fatalf("ExpectSeq failures %q, want one naming the replies", r.Failures)
	}

	c.Want(331, "USER "+User)
	c.Want(530, "PASS wrong") // the only attempt: 421 follows, then the end
	c.ExpectClosed()
}

// DialFrom connects from another loopback address, which the server
// counts as another client.
func TestDialFrom(t *testing.T) {
	ts := NewServer(t, func(c *server.Config) { c.MaxSessionsPerIP = 1 })
	ts.Dial(t)
	c := ts.DialFrom(t, "127.0.0.2")
	if host, _, _ := net.SplitHostPort(c.NetConn().LocalAddr().String()); host != "127.0.0.2" {
		t.Fatalf("DialFrom connected from %s", host)
	}
	r := &testenv.Recorder{TB: t}
	DialFrom(r, ts.Addr, "127.0.0.2")
	if len(r.Failures) != 1 || !strings.Contains(r.Failures[0], "reply 421") {
		t.Fatalf("a second connection from 127.0.0.2: failures %q, want its 421", r.Failures)
	}
}

func TestUserQuota(t *testing.T) {
	ts := NewServer(t, UserQuota(User, server.Quota{Bytes: 10}))
	c := ts.Dial(t)
	c.Login(User, Password)
	WriteAll(t, c.Open("EPSV", "STOR f"), []byte("0123456789+"))
	c.Expect(552)
	WriteAll(t, c.Open("EPSV", "STOR f"), []byte("0123456789"))
	c.Expect(226)
}

func TestServeIPv6(t *testing.T) {
	ts := NewServer(t)
	addr := ts.ServeIPv6(t)
	if ap := netip.MustParseAddrPort(addr); ap.Addr() != netip.IPv6Loopback() {
		t.Fatalf("ServeIPv6 listens on %s", addr)
	}
	c := Dial(t, addr)
	c.Login(User, Password)
	ts.WriteFile(t, "f", []byte("over IPv6"))
	for _, mode := range []string{"EPSV", "EPRT"} {
		if got := string(ReadAll(t, c.Open(mode, "RETR f"))); got != "over IPv6" {
			t.Fatalf("%s over IPv6: %q", mode, got)
		}
		c.Expect(226)
	}
}

func TestOnLog(t *testing.T) {
	ts := NewServer(t)
	logged := ts.OnLog("verb=NOOP")
	other := ts.OnLog("never logged")
	ts.Dial(t).Want(200, "NOOP")
	select {
	case <-logged:
	case <-time.After(ioTimeout):
		t.Fatal("no signal for the NOOP's log line")
	}
	select {
	case <-other:
		t.Fatal("signalled for a line never logged")
	default:
	}
}

// Root is alone in its parent, so that escapes would show.
func TestRootAlone(t *testing.T) {
	ts := NewServer(t)
	entries, err := os.ReadDir(filepath.Dir(ts.Root))
	if err != nil || len(entries) != 1 || filepath.Join(filepath.Dir(ts.Root), entries[0].Name()) != ts.Root {
		t.Fatalf("beside Root %s: %v, %v", ts.Root, entries, err)
	}
}

// A panic the server recovers from fails the test when the server closes.
func TestPanicFails(t *testing.T) {
	r := &testenv.Recorder{TB: t}
	ts := NewServer(r, func(c *server.Config) { c.Auth = panicky{} })
	c := ts.Dial(t)
	c.Send("USER x")
	c.Expect(331)
	c.Send("PASS y")
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := c.tp.ReadResponse(0); err == nil {
		t.Fatal("the session answered after its panic")
	}
	ts.Close()
	if len(r.Failures) != 1 || !strings.Contains(r.Failures[0], "recovered from a panic") || !strings.Contains(r.Failures[0], "session panic") {
		t.Fatalf("failures %q, want one for the panic", r.Failures)
	}
}

type panicky struct{}

func (panicky) Authenticate(context.Context, server.LoginRequest) (*server.User, error) {
	panic("authenticator bug")
}
