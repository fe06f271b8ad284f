package server_test

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/server"
)

// End to end: after Ban.After failures the address is turned away at
// connect with 421, loopback included.
func TestBanRefusesConnections(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) {
		c.Ban = server.BanPolicy{After: 2, Window: time.Minute, For: time.Minute}
		c.MaxLoginAttempts = 10
	})
	c := ts.Dial(t)
	c.Want(ftp.CodeNeedPassword, "USER alice")
	c.Want(ftp.CodeNotLoggedIn, "PASS wrong1")
	c.Want(ftp.CodeNeedPassword, "USER alice")
	c.Want(ftp.CodeNotLoggedIn, "PASS wrong2")
	c.Expect(ftp.CodeServiceUnavailable)

	conn, err := net.DialTimeout("tcp", ts.Addr, 5*time.Second)
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
	ts := ftptest.NewServer(t, func(c *server.Config) {
		c.Ban = server.BanPolicy{After: 1, Window: time.Minute, For: time.Minute}
		c.MaxLoginAttempts = 10
	})
	// Three failures for alice, each "from" a different address, ban the
	// name (3×After) but only the last address.
	for i := 0; i < 3; i++ {
		server.FailLogin(ts.Server, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), "alice")
	}
	c := ts.Dial(t)
	c.Want(ftp.CodeNeedPassword, "USER alice")
	c.Want(ftp.CodeNotLoggedIn, "PASS "+ftptest.Password)
}

// Nine wrong passwords, one anonymous login, and again: the login does
// not clear the address's count, so the tenth failure bans it.
func TestAlternatingLoginsStillBan(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) {
		c.Ban = server.BanPolicy{After: 10, Window: time.Minute, For: time.Minute}
		c.MaxLoginAttempts = 100
	})
	c := ts.Dial(t)
	for round := 0; ; round++ {
		for i := 0; i < 9; i++ {
			c.Want(ftp.CodeNeedPassword, "USER bob")
			if round == 1 && i == 0 {
				c.Send("PASS wrong")
				c.Expect(ftp.CodeNotLoggedIn)
				c.ExpectClosed()
				return
			}
			c.Want(ftp.CodeNotLoggedIn, "PASS wrong")
		}
		if round == 1 {
			t.Fatal("not banned")
		}
		c.Want(ftp.CodeNeedPassword, "USER anonymous")
		c.Want(ftp.CodeLoggedIn, "PASS guest@")
		c.Want(ftp.CodeServiceReady, "REIN")
	}
}

// A ban closes its address's sessions that have not logged in, so they
// cannot go on guessing; a right password sent on one afterwards is
// never checked. Logged-in sessions of the address stay.
func TestBanClosesUnauthenticatedSessions(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) {
		c.Ban = server.BanPolicy{After: 3, Window: time.Minute, For: time.Minute}
		c.MaxLoginAttempts = 10
	})
	in := ts.Dial(t)
	in.Login(ftptest.User, ftptest.Password)
	waiting := ts.Dial(t)
	waiting.Want(ftp.CodeNeedPassword, "USER alice")
	idle := ts.Dial(t)
	guesser := ts.Dial(t)
	for i := 0; i < 2; i++ {
		guesser.Want(ftp.CodeNeedPassword, "USER alice")
		guesser.Want(ftp.CodeNotLoggedIn, "PASS wrong")
	}
	guesser.Want(ftp.CodeNeedPassword, "USER alice")
	guesser.Want(ftp.CodeNotLoggedIn, "PASS wrong")
	guesser.ExpectClosed()
	waiting.ExpectClosed()
	idle.ExpectClosed()
	in.Want(ftp.CodeOK, "NOOP")
	if bans, _ := server.GuardCounts(ts.Server); bans != 1 {
		t.Fatalf("%d bans counted, want 1", bans)
	}
}

// A session whose address is banned while it is open (here by the
// guard directly, as another node or a race with the drop would) is
// refused at its next PASS, right password or not, and closed.
func TestPassRefusedOnceAddressBanned(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) {
		c.Ban = server.BanPolicy{After: 2, Window: time.Minute, For: time.Minute}
	})
	c := ts.Dial(t)
	c.Want(ftp.CodeNeedPassword, "USER alice")
	server.FailLogin(ts.Server, netip.MustParseAddr("127.0.0.1"), "x")
	server.FailLogin(ts.Server, netip.MustParseAddr("127.0.0.1"), "x")
	c.Send("PASS " + ftptest.Password)
	c.Expect(ftp.CodeNotLoggedIn)
	c.ExpectClosed()
}

// Failures for one account spread over three addresses lock it for
// everyone, right password included, while one address's failures only
// ban that address.
func TestLockoutNeedsSeveralAddresses(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) {
		c.Ban = server.BanPolicy{After: 2, Window: time.Minute, For: time.Minute}
		c.MaxLoginAttempts = 10
	})
	guess := func(from string, n int) {
		c := ts.DialFrom(t, from)
		for i := 0; i < n; i++ {
			c.Want(ftp.CodeNeedPassword, "USER alice")
			c.Want(ftp.CodeNotLoggedIn, "PASS wrong")
		}
		c.ExpectClosed() // the address's own ban
	}
	guess("127.0.0.2", 2)
	guess("127.0.0.3", 2)
	if server.UserLocked(ts.Server, "alice") {
		t.Fatal("two addresses locked alice")
	}
	guess("127.0.0.4", 2)
	c := ts.DialFrom(t, "127.0.0.9")
	c.Want(ftp.CodeNeedPassword, "USER alice")
	c.Want(ftp.CodeNotLoggedIn, "PASS "+ftptest.Password) // locked: refused like a wrong password
	if _, lockouts := server.GuardCounts(ts.Server); lockouts != 1 {
		t.Fatalf("%d lockouts counted, want 1", lockouts)
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
	ts := ftptest.NewServer(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Ban = server.BanPolicy{After: 100, Window: time.Minute, For: time.Minute}
	})
	c := ts.Dial(t)
	c.Want(ftp.CodeNeedPassword, "USER bob")
	c.Want(ftp.CodeNotLoggedIn, "PASS hunter2-pass")
	c.Want(ftp.CodeBadSequence, "ACCT hunter2-acct")
	c.Want(ftp.CodeClosing, "QUIT")
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
