package server

import (
	"net"
	"net/netip"
	"strings"
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
		d, banned := g.failed(ip, "Alice", time.Second)
		delays = append(delays, d)
		if banned != (i == 2) {
			t.Fatalf("failure %d: banned=%v", i+1, banned)
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
	// A success forgets the counts.
	g.succeeded(ip, "alice")
	if d, _ := g.failed(ip, "alice", time.Second); d != time.Second {
		t.Fatalf("after success the delay restarts at base, got %v", d)
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
		if _, banned := g.failed(ip, "x", 0); banned {
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
