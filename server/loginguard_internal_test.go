package server

import (
	"net/netip"
	"slices"
	"testing"
	"time"
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
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !slices.Equal(delays, want) {
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
