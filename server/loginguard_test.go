package server

import (
	"bufio"
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"net/textproto"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

func TestLoginGuardDelaysAndBans(t *testing.T) {
	now := time.Unix(1000, 0)
	g := newLoginGuard(BanPolicy{After: 3, Window: time.Minute, For: 5 * time.Minute})
	g.now = func() time.Time { return now }
	ip := netip.MustParseAddr("192.0.2.1")
	var delays []time.Duration
	for i := 0; i < 3; i++ {
		out := g.failed(ip, "Alice", time.Second)
		delays = append(delays, out.delay)
		if out.ipBanned != (i == 2) {
			t.Fatalf("failure %d: banned=%v", i+1, out.ipBanned)
		}
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !equalDurations(delays, want) {
		t.Fatalf("delays %v, want %v", delays, want)
	}
	if b, _ := g.ipBanned(ip); !b {
		t.Fatal("IP not banned after 3 failures")
	}
	if b, _ := g.ipBanned(netip.MustParseAddr("192.0.2.2")); b {
		t.Fatal("another IP banned")
	}
	now = now.Add(5*time.Minute + time.Second)
	if b, _ := g.ipBanned(ip); b {
		t.Fatal("ban did not expire")
	}
	// The window over, the counts start again.
	if d := g.failed(ip, "alice", time.Second).delay; d != time.Second {
		t.Fatalf("after the window the delay restarts at base, got %v", d)
	}
}

// A login, as any account, does not clear an address's failures: nine
// wrong passwords and one anonymous login, over and over, are banned at
// the tenth failure.
func TestLoginGuardSuccessDoesNotClearAddress(t *testing.T) {
	g := newLoginGuard(BanPolicy{After: 10, Window: time.Minute, For: time.Minute})
	ip := netip.MustParseAddr("192.0.2.1")
	banned := 0
	for i := 1; i <= 90; i++ {
		if g.failed(ip, "bob", 0).ipBanned {
			banned = i
			break
		}
		if i%9 == 0 {
			g.succeeded("anonymous")
		}
	}
	if banned != 10 {
		t.Fatalf("banned at failure %d, want 10", banned)
	}
}

// One address, however many failures it makes, cannot lock an account
// out for everyone: only its own ban follows.
func TestLoginGuardOneAddressCannotLockUser(t *testing.T) {
	g := newLoginGuard(BanPolicy{After: 3, Window: time.Minute, For: time.Minute})
	ip := netip.MustParseAddr("192.0.2.1")
	for i := 0; i < 100; i++ {
		if out := g.failed(ip, "bob", 0); out.userLocked {
			t.Fatalf("failure %d from one address locked bob", i+1)
		}
	}
	if g.userBanned("bob") {
		t.Fatal("bob locked by one address")
	}
	if b, _ := g.ipBanned(ip); !b {
		t.Fatal("the guessing address is not banned")
	}
	// Two addresses are not enough either (3×After, at most After each).
	for i := 0; i < 10; i++ {
		if g.failed(netip.MustParseAddr("192.0.2.2"), "bob", 0).userLocked {
			t.Fatal("two addresses locked bob")
		}
	}
	third := netip.MustParseAddr("192.0.2.3")
	for i := 0; i < 2; i++ {
		if g.failed(third, "bob", 0).userLocked {
			t.Fatalf("locked at the third address's failure %d, want 3", i+1)
		}
	}
	if out := g.failed(third, "bob", 0); !out.userLocked || out.addrs != 3 {
		t.Fatalf("the third address's failure: %+v, want a lock counted from 3 addresses", out)
	}
	if g.lockouts.Load() != 1 || g.bans.Load() != 3 {
		t.Fatalf("counted %d lockouts and %d bans, want 1 and 3", g.lockouts.Load(), g.bans.Load())
	}
}

func TestLoginGuardUserBanFromManyAddresses(t *testing.T) {
	g := newLoginGuard(BanPolicy{After: 2, Window: time.Minute, For: time.Minute})
	for i := 0; i < 6; i++ {
		g.failed(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), "root", 0)
	}
	if !g.userBanned("ROOT") {
		t.Fatal("user not banned after a distributed guess")
	}
	if g.userBanned("alice") {
		t.Fatal("another user banned")
	}
}

func TestLoginGuardOff(t *testing.T) {
	g := newLoginGuard(BanPolicy{After: -1})
	ip := netip.MustParseAddr("192.0.2.1")
	for i := 0; i < 100; i++ {
		if out := g.failed(ip, "x", 0); out.ipBanned || out.userLocked {
			t.Fatal("banned with bans off")
		}
	}
	if b, _ := g.ipBanned(ip); b {
		t.Fatal("banned with bans off")
	}
}

func TestLoginGuardMemoryBounded(t *testing.T) {
	g := newLoginGuard(DefaultBanPolicy)
	for i := 0; i < maxGuardEntries+1000; i++ {
		g.failed(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), "u", 0)
	}
	if n := len(g.ips); n > maxGuardEntries {
		t.Fatalf("%d IP entries kept", n)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// End to end: after Ban.After failures the address is turned away at
// connect with 421, loopback included.
func TestBanRefusesConnections(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Ban = BanPolicy{After: 2, Window: time.Minute, For: time.Minute}
		c.MaxLoginAttempts = 10
	})
	c := dial(t, ts.addr)
	c.cmd(ftp.CodeNeedPassword, "USER alice")
	c.cmd(ftp.CodeNotLoggedIn, "PASS wrong1")
	c.cmd(ftp.CodeNeedPassword, "USER alice")
	c.cmd(ftp.CodeNotLoggedIn, "PASS wrong2")
	c.expect(ftp.CodeServiceUnavailable)

	conn, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 256)
	n, _ := conn.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "421 ") {
		t.Fatalf("banned address got %q", buf[:n])
	}
}

// A banned user name is refused even with the right password, with the
// same reply as a wrong one.
func TestBannedUserRefused(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Ban = BanPolicy{After: 1, Window: time.Minute, For: time.Minute}
		c.MaxLoginAttempts = 10
	})
	// Three failures for alice, each "from" a different address, ban the
	// name (3×After) but only the last address.
	for i := 0; i < 3; i++ {
		ts.srv.guard.failed(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), "alice", 0)
	}
	c := dial(t, ts.addr)
	c.cmd(ftp.CodeNeedPassword, "USER alice")
	c.cmd(ftp.CodeNotLoggedIn, "PASS secret")
}

// dialFrom opens a control connection from a loopback source address of
// its own (any 127/8 address reaches the server on 127.0.0.1).
func dialCtrlFrom(t *testing.T, addr, from string) *ctrl {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &ctrl{t: t, conn: conn, r: textproto.NewReader(bufio.NewReader(conn))}
	c.expect(ftp.CodeServiceReady)
	return c
}

// expectClosed reads one 421 and then the end of the connection.
func (c *ctrl) expectClosed() {
	c.t.Helper()
	c.expect(ftp.CodeServiceUnavailable)
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.conn.Read(make([]byte, 1)); err == nil || timeoutError(err) {
		c.t.Fatalf("after 421: read %d bytes, %v; want the connection closed", n, err)
	}
}

// Nine wrong passwords, one anonymous login, and again: the login does
// not clear the address's count, so the tenth failure bans it.
func TestAlternatingLoginsStillBan(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Ban = BanPolicy{After: 10, Window: time.Minute, For: time.Minute}
		c.MaxLoginAttempts = 100
	})
	c := dial(t, ts.addr)
	for round := 0; ; round++ {
		for i := 0; i < 9; i++ {
			c.cmd(ftp.CodeNeedPassword, "USER bob")
			if round == 1 && i == 0 {
				c.send("PASS wrong")
				c.expect(ftp.CodeNotLoggedIn)
				c.expectClosed()
				return
			}
			c.cmd(ftp.CodeNotLoggedIn, "PASS wrong")
		}
		if round == 1 {
			t.Fatal("not banned")
		}
		c.cmd(ftp.CodeNeedPassword, "USER anonymous")
		c.cmd(ftp.CodeLoggedIn, "PASS guest@")
		c.cmd(ftp.CodeServiceReady, "REIN")
	}
}

// A ban closes its address's sessions that have not logged in, so they
// cannot go on guessing; a right password sent on one afterwards is
// never checked. Logged-in sessions of the address stay.
func TestBanClosesUnauthenticatedSessions(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Ban = BanPolicy{After: 3, Window: time.Minute, For: time.Minute}
		c.MaxLoginAttempts = 10
	})
	in := dial(t, ts.addr)
	in.login("alice")
	waiting := dial(t, ts.addr)
	waiting.cmd(ftp.CodeNeedPassword, "USER alice")
	idle := dial(t, ts.addr)
	guesser := dial(t, ts.addr)
	for i := 0; i < 2; i++ {
		guesser.cmd(ftp.CodeNeedPassword, "USER alice")
		guesser.cmd(ftp.CodeNotLoggedIn, "PASS wrong")
	}
	guesser.cmd(ftp.CodeNeedPassword, "USER alice")
	guesser.cmd(ftp.CodeNotLoggedIn, "PASS wrong")
	guesser.expectClosed()
	waiting.expectClosed()
	idle.expectClosed()
	in.cmd(ftp.CodeOK, "NOOP")
	if ts.srv.guard.bans.Load() != 1 {
		t.Fatalf("%d bans counted, want 1", ts.srv.guard.bans.Load())
	}
}

// A session whose address is banned while it is open (here by the
// guard directly, as another node or a race with the drop would) is
// refused at its next PASS, right password or not, and closed.
func TestPassRefusedOnceAddressBanned(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Ban = BanPolicy{After: 2, Window: time.Minute, For: time.Minute}
	})
	c := dial(t, ts.addr)
	c.cmd(ftp.CodeNeedPassword, "USER alice")
	ts.srv.guard.failed(netip.MustParseAddr("127.0.0.1"), "x", 0)
	ts.srv.guard.failed(netip.MustParseAddr("127.0.0.1"), "x", 0)
	c.send("PASS secret")
	c.expect(ftp.CodeNotLoggedIn)
	c.expectClosed()
}

// Failures for one account spread over three addresses lock it for
// everyone, right password included, while one address's failures only
// ban that address.
func TestLockoutNeedsSeveralAddresses(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Ban = BanPolicy{After: 2, Window: time.Minute, For: time.Minute}
		c.MaxLoginAttempts = 10
	})
	guess := func(from string, n int) {
		c := dialCtrlFrom(t, ts.addr, from)
		for i := 0; i < n; i++ {
			c.cmd(ftp.CodeNeedPassword, "USER alice")
			c.cmd(ftp.CodeNotLoggedIn, "PASS wrong")
		}
		c.expectClosed() // the address's own ban
	}
	guess("127.0.0.2", 2)
	guess("127.0.0.3", 2)
	if ts.srv.guard.userBanned("alice") {
		t.Fatal("two addresses locked alice")
	}
	guess("127.0.0.4", 2)
	c := dialCtrlFrom(t, ts.addr, "127.0.0.9")
	c.cmd(ftp.CodeNeedPassword, "USER alice")
	c.cmd(ftp.CodeNotLoggedIn, "PASS secret") // locked: refused like a wrong password
	if ts.srv.guard.lockouts.Load() != 1 {
		t.Fatalf("%d lockouts counted, want 1", ts.srv.guard.lockouts.Load())
	}
}

// syncBuffer is a log destination the test reads while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Every failed login is one info line of a fixed shape (the README's
// fail2ban filter matches it), and neither PASS's nor ACCT's argument
// is ever logged, even at debug level.
func TestLoginFailureLogLine(t *testing.T) {
	var logs syncBuffer
	ts := startServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Ban = BanPolicy{After: 100, Window: time.Minute, For: time.Minute}
	})
	c := dial(t, ts.addr)
	c.cmd(ftp.CodeNeedPassword, "USER bob")
	c.cmd(ftp.CodeNotLoggedIn, "PASS hunter2-pass")
	c.cmd(ftp.CodeBadSequence, "ACCT hunter2-acct")
	c.cmd(ftp.CodeClosing, "QUIT")
	out := logs.String()
	for _, secret := range []string{"hunter2-pass", "hunter2-acct"} {
		if strings.Contains(out, secret) {
			t.Errorf("a secret reached the log:\n%s", out)
		}
	}
	line := regexp.MustCompile(`"level":"INFO","msg":"login failed",.*"ip":"127\.0\.0\.1","user":"bob","reason":"bad credentials"`)
	if !line.MatchString(out) {
		t.Errorf("no stable login-failed line in:\n%s", out)
	}
}
